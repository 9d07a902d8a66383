"""Latency of the metrics query API over 1,000,000 records (30 days) in the embedded SQLite store.

Fills a SQLite file the way the log writer does (batches of 500, oldest first, rollups kept
at ingest; `customer_id` declared), then times three queries through the HTTP API (facade ->
gRPC -> core -> rollups), each with its window moved by a random number of milliseconds per
sample so that every edge is unaligned, and the same queries on the engine directly:

1. `group_by: [model], interval: day` over 30 days, with percentiles (target p95 <= 100 ms)
2. `group_by: [metadata.customer_id]` (200 values) over 30 days (target p95 <= 200 ms)
3. `group_by: [user, model], interval: hour` over 7 days (target p95 <= 200 ms)

The traffic: 200 users of skewed activity (Zipf), 6 models of skewed popularity, 200 customers,
3 environments, 5% errors, 40% streams.

    make bench-metrics   # or: .venv/bin/python -m bench.metrics_query --records 1000000
    .venv/bin/python -m bench.metrics_query --db /tmp/metrics.db   # keep the file for reruns
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import random
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp

from bench.timing import p95, run_on_db, summary
from core.config.loader import parse_config
from core.store.base import LogQuery, LogRecord
from core.store.sqlite import SqliteStore
from core.usage.engine import MetricsEngine
from core.usage.query import DEFAULT_LIMIT, DEFAULT_SERIES, MetricsQuery
from core.usage.rollup import Rollups
from gateway_cli.embedded import embedded_gateway

KEY = "bench-admin-key"
CONFIG = """
name: mock-main
type: provider-account
provider: mock
models: [{name: echo}]
---
name: metrics
type: gateway-metrics-config
metadata_keys: [customer_id]
"""
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
SPAN_DAYS = 30
START_MS = 1_731_000_000_000
USERS = 200
CUSTOMERS = 200
MODELS = (
    "openai-main/gpt-4o",
    "openai-main/gpt-4o-mini",
    "anthropic-main/claude-3-5-sonnet",
    "azure-east/gpt-4o",
    "mock-main/echo",
    "gemini-main/gemini-1.5-pro",
)
MODEL_WEIGHTS = (30, 40, 15, 8, 2, 5)
ENVIRONMENTS = ("production", "staging", "dev")
BATCH = 500


def _zipf(n: int, s: float) -> list[float]:
    return list(itertools.accumulate(1 / (k**s) for k in range(1, n + 1)))


def records(count: int, seed: int = 7) -> Iterator[LogRecord]:
    """`count` varied records, oldest first, spread over SPAN_DAYS."""
    rng = random.Random(seed)
    step = SPAN_DAYS * DAY_MS / count
    users = _zipf(USERS, 1.1)
    models = list(itertools.accumulate(MODEL_WEIGHTS))
    for i in range(count):
        user = bisect.bisect(users, rng.random() * users[-1])
        model = MODELS[bisect.bisect(models, rng.random() * models[-1])]
        failed = rng.random() < 0.05
        stream = rng.random() < 0.4
        tokens_in, tokens_out = rng.randrange(5, 4000), rng.randrange(1, 800)
        latency = rng.lognormvariate(6.5, 0.8)
        metadata = {
            "customer_id": f"cust-{rng.randrange(CUSTOMERS):03d}",
            "environment": ENVIRONMENTS[rng.randrange(3)],
        }
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
            latency_ms=latency,
            upstream_ms=None if failed else latency - rng.uniform(0.2, 2.0),
            teams=(f"team:t{user % 20}",),
            metadata=metadata,
            error_code="upstream_error" if failed else "",
            input_tokens=0 if failed else tokens_in,
            output_tokens=0 if failed else tokens_out,
            total_tokens=0 if failed else tokens_in + tokens_out,
            cost=0.0 if failed else (tokens_in * 2.5 + tokens_out * 10) / 1e6,
            ttft_ms=rng.uniform(50, 400) if stream and not failed else None,
        )


class Clock:
    """The store's clock during the fill: just after the newest record, as if live."""

    def __init__(self) -> None:
        self.now = START_MS

    def __call__(self) -> int:
        return self.now


async def fill(store: SqliteStore, count: int, clock: Clock) -> float:
    """Inserts `count` records as the log writer would; returns records per second."""
    started = time.perf_counter()
    pending: list[LogRecord] = []
    for record in records(count):
        pending.append(record)
        if len(pending) == BATCH:
            clock.now = record.created_at + 1000
            await store.insert_logs(pending)
            pending = []
    await store.insert_logs(pending)
    return count / (time.perf_counter() - started)


CASES: dict[str, tuple[dict[str, Any], int, float]] = {
    # name: (query body without times, period, target p95 ms)
    "group_by model, interval day, 30 days": (
        {"group_by": ["model"], "interval": "day"},
        SPAN_DAYS * DAY_MS,
        100.0,
    ),
    "group_by metadata.customer_id, 30 days": (
        {"group_by": ["metadata.customer_id"]},
        SPAN_DAYS * DAY_MS,
        200.0,
    ),
    "group_by user+model, interval hour, 7 days": (
        {"group_by": ["user", "model"], "interval": "hour"},
        7 * DAY_MS,
        200.0,
    ),
}


def windows(period: int, samples: int, seed: int = 11) -> list[tuple[int, int]]:
    """`samples` windows of `period` ms ending within the data's last day, unaligned."""
    rng = random.Random(seed)
    end_max = START_MS + SPAN_DAYS * DAY_MS
    out = []
    for _ in range(samples):
        end = end_max - rng.randrange(0, DAY_MS)
        out.append((end - period, end))
    return out


async def main(count: int, samples: int, db: Path) -> None:
    rollups = Rollups.from_config(parse_config(CONFIG).metrics)
    clock = Clock()
    store = SqliteStore(db, rollups=rollups, now_ms=clock)
    await store.open()
    try:
        existing = (await store.query_logs(LogQuery(limit=1))).total
        if existing == 0:
            print(f"filling {db} with {count:,} records (batches of {BATCH}) ...", flush=True)
            rate = await fill(store, count, clock)
            print(f"  {rate:,.0f} records/s into SQLite with rollups (store alone)")
        elif existing != count:
            raise SystemExit(f"{db} holds {existing:,} records: remove it or pass --records")
        print(f"{count:,} records over {SPAN_DAYS} days; {samples} samples per query\n")
        engine = MetricsEngine(store, rollups)
        headers = {"authorization": f"Bearer {KEY}"}
        running = embedded_gateway(store, parse_config(CONFIG), admin_key=KEY, rollups=rollups)
        async with running as gateway, aiohttp.ClientSession(headers=headers) as http:
            url = gateway.http_url + "/api/svc/v1/llm-gateway/metrics/query"
            for name, (shape, period, target) in CASES.items():
                cases = windows(period, samples)
                direct: list[float] = []
                api: list[float] = []
                rows = 0
                interval = shape.get("interval")
                queries = [
                    MetricsQuery(  # the API's defaults: 100 groups, 10 series
                        start=start,
                        end=end,
                        group_by=tuple(shape["group_by"]),
                        interval=interval,
                        limit=DEFAULT_LIMIT if interval is None else DEFAULT_SERIES,
                    )
                    for start, end in cases
                ]
                # One untimed pass first: the figures are then those of a warm page cache, as
                # a running gateway's are, not of how fast this machine's disk is.
                for query in queries:
                    await engine.run(query)
                for (start, end), query in zip(cases, queries, strict=True):
                    began = time.perf_counter()
                    result = await engine.run(query)
                    direct.append((time.perf_counter() - began) * 1000)
                    body = {**shape, "start_time": start, "end_time": end}
                    began = time.perf_counter()
                    async with http.post(url, json=body) as response:
                        answer = await response.json()
                        if response.status != 200:
                            raise RuntimeError(answer)
                    api.append((time.perf_counter() - began) * 1000)
                    rows = len(answer["rows"])
                    assert answer["totals"]["requests"] == result.totals.requests
                print(f"{name}  ({rows} rows)")
                print("  " + summary("engine (store + rollups)", direct, 28))
                print("  " + summary("HTTP API", api, 28))
                verdict = "met" if p95(api) <= target else "NOT met"
                print(f"  target p95 <= {target:.0f} ms through the API: {verdict}")
    finally:
        await store.close()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--db", type=Path, help="SQLite file to fill or reuse (default: temp)")
    args = parser.parse_args()
    run_on_db(partial(main, args.records, args.samples), args.db)


if __name__ == "__main__":
    cli()
