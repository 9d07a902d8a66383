"""Latency of the request-log API over 1,000,000 records in the embedded SQLite store.

Fills a SQLite file with varied records (direct batch inserts, 30 days of traffic), then
starts core and facade in this process, as `llm-gateway serve` composes them, and times one
filtered, sorted page of 25 (a one-day `created_at` range plus one `metadata.<key>` value,
`created_at` DESC) through the HTTP API (facade -> gRPC -> core -> SQLite). As a baseline
in the same run, the same queries go to the store directly. Prints p50/p95 for both.

    make bench-logs-query   # or: .venv/bin/python -m bench.log_query --records 1000000
    .venv/bin/python -m bench.log_query --db /tmp/logs.db   # keep the file: later runs reuse it
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.timing import p95, run_on_db, summary
from core.config.loader import parse_config
from core.store.base import Attempt, LogFilter, LogQuery, LogRecord, LogSort
from core.store.sqlite import SqliteStore
from gateway_cli.embedded import embedded_gateway

KEY = "bench-admin-key"
CONFIG = "name: mock-main\ntype: provider-account\nprovider: mock\nmodels:\n  - {name: echo}\n"
TARGET_P95_MS = 50.0
DAY_MS = 86_400_000
SPAN_DAYS = 30
START_MS = 1_731_000_000_000
CUSTOMERS = 200
MODELS = (
    "openai-main/gpt-4o",
    "openai-main/gpt-4o-mini",
    "anthropic-main/claude-3-5-sonnet",
    "azure-east/gpt-4o",
    "mock-main/echo",
    "gemini-main/gemini-1.5-pro",
)
ENVIRONMENTS = ("production", "staging", "dev")
Query = tuple[int, str, str]  # (window start, metadata key, value)


def records(count: int, seed: int = 7) -> Iterator[LogRecord]:
    """`count` varied records, oldest first, spread over SPAN_DAYS."""
    rng = random.Random(seed)
    step = SPAN_DAYS * DAY_MS / count
    body = orjson.dumps(
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "Say something."}]}
    ).decode()
    for i in range(count):
        model = MODELS[rng.randrange(len(MODELS))]
        failed = rng.random() < 0.05
        stream = rng.random() < 0.4
        tokens_in, tokens_out = rng.randrange(5, 4000), rng.randrange(1, 800)
        user = rng.randrange(500)
        metadata = {
            "customer_id": f"cust-{rng.randrange(CUSTOMERS):03d}",
            "environment": ENVIRONMENTS[rng.randrange(3)],
        }
        if rng.random() < 0.5:
            metadata["application"] = f"app-{rng.randrange(5)}"
        yield LogRecord(
            id=f"bench-{i:08d}",
            created_at=START_MS + int(i * step),
            model=model,
            resolved_model="" if failed else model,
            provider_account="" if failed else model.split("/")[0],
            subject=f"user:u{user}@example.com",
            key_id=f"key-{user}",
            status="error" if failed else "success",
            http_status=502 if failed else 200,
            stream=stream,
            latency_ms=rng.uniform(80, 4000),
            teams=(f"team:t{user % 20}",),
            metadata=metadata,
            attempts=(Attempt(model, 502 if failed else 200, "", rng.uniform(50, 3000)),),
            error_code="upstream_error" if failed else "",
            input_tokens=0 if failed else tokens_in,
            output_tokens=0 if failed else tokens_out,
            total_tokens=0 if failed else tokens_in + tokens_out,
            cost=0.0 if failed else (tokens_in * 2.5 + tokens_out * 10) / 1e6,
            ttft_ms=rng.uniform(50, 400) if stream and not failed else None,
            request_body=body if i % 10 == 0 else None,
        )


async def fill(store: SqliteStore, count: int, batch: int = 20_000) -> float:
    """Inserts `count` records in batches; returns records per second."""
    started = time.perf_counter()
    pending: list[LogRecord] = []
    for record in records(count):
        pending.append(record)
        if len(pending) == batch:
            await store.insert_logs(pending)
            pending = []
    await store.insert_logs(pending)
    return count / (time.perf_counter() - started)


def http_body(query: Query) -> dict[str, Any]:
    start, key, value = query
    return {
        "filter": {
            "created_at": [
                {"key": "created_at", "value": start + DAY_MS, "operator": "LT"},
                {"key": "created_at", "value": start, "operator": "GTE"},
            ],
            f"metadata.{key}": [{"key": f"metadata.{key}", "value": value, "operator": "EQ"}],
        },
        "sort": [{"key": "created_at", "order": "DESC"}],
        "limit": 25,
        "offset": 0,
    }


def store_query(query: Query) -> LogQuery:
    start, key, value = query
    return LogQuery(
        filters=(
            LogFilter("created_at", "LT", start + DAY_MS),
            LogFilter("created_at", "GTE", start),
            LogFilter(f"metadata.{key}", "EQ", value),
        ),
        sort=(LogSort("created_at", descending=True),),
        limit=25,
    )


def queries(n: int, key: str, values: list[str], seed: int = 11) -> list[Query]:
    rng = random.Random(seed)
    last = START_MS + (SPAN_DAYS - 1) * DAY_MS
    return [(rng.randrange(START_MS, last), key, rng.choice(values)) for _ in range(n)]


async def timed(calls: list[Callable[[], Awaitable[int]]]) -> tuple[list[float], int]:
    """Milliseconds per call (sequential), and the rows the last call returned."""
    out, rows = [], 0
    for call in calls:
        started = time.perf_counter()
        rows = await call()
        out.append((time.perf_counter() - started) * 1000)
    return out, rows


async def main(count: int, samples: int, db: Path) -> None:
    store = SqliteStore(db)
    await store.open()
    try:
        existing = (await store.query_logs(LogQuery(limit=1))).total
        if existing < count:
            print(f"filling {db} with {count - existing:,} records ...", flush=True)
            rate = await fill(store, count) if existing == 0 else 0.0
            if not rate:
                raise SystemExit(f"{db} holds {existing:,} records: remove it or pass --records")
            print(f"  {rate:,.0f} records/s (direct batch inserts)")
        total = (await store.query_logs(LogQuery(limit=1))).total
        print(f"{total:,} records; page of 25, one-day created_at range + metadata, DESC\n")
        cases = {
            "metadata.customer_id (1 of 200)": queries(
                samples, "customer_id", [f"cust-{i:03d}" for i in range(CUSTOMERS)]
            ),
            "metadata.environment (1 of 3)": queries(samples, "environment", list(ENVIRONMENTS)),
        }
        headers = {"authorization": f"Bearer {KEY}"}
        running = embedded_gateway(store, parse_config(CONFIG), admin_key=KEY)
        async with running as gateway, aiohttp.ClientSession(headers=headers) as http:
            url = gateway.http_url + "/api/svc/v1/llm-gateway/requests"

            async def over_http(query: Query) -> int:
                async with http.post(url, json=http_body(query)) as response:
                    if response.status != 200:
                        raise RuntimeError(await response.text())
                    return len((await response.json())["data"])

            async def direct(query: Query) -> int:
                return len((await store.query_logs(store_query(query))).records)

            for name, qs in cases.items():
                await timed([partial(direct, q) for q in qs[:20]])  # warm the page cache
                base, _ = await timed([partial(direct, q) for q in qs])
                api, rows = await timed([partial(over_http, q) for q in qs])
                print(name)
                print("  " + summary("store directly (baseline)", base))
                print("  " + summary("HTTP API (facade->gRPC->core)", api))
                print(
                    f"  {'added by the API':<34} p50 "
                    f"{statistics.median(api) - statistics.median(base):7.2f} ms   "
                    f"(last page: {rows} rows)"
                )
                verdict = "met" if p95(api) <= TARGET_P95_MS else "NOT met"
                print(f"  target p95 <= {TARGET_P95_MS:.0f} ms through the API: {verdict}")
    finally:
        await store.close()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--db", type=Path, help="SQLite file to fill or reuse (default: temp)")
    args = parser.parse_args()
    run_on_db(partial(main, args.records, args.samples), args.db)


if __name__ == "__main__":
    cli()
