"""Log records/s into SQLite: through the pipeline (submit -> writer -> store) vs. the store alone,
each without and with metrics rollups (as `examples/gateway.yaml` declares them).

Every run writes the same realistic records (metadata, attempt, request and response bodies)
into fresh SQLite files in the same process, so the differences are the pipeline's own cost
and the rollups'. A run over a store that does nothing gives the pipeline's own ceiling.
The pipeline run submits as a busy gateway would (never more than the queue holds, so nothing
spills); `--burst` instead submits everything at once, so most records spill to the journal
and are replayed from it: the overload path.

    make bench-logs       # or: .venv/bin/python -m bench.log_ingest --records 200000
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from core.config.loader import load_config
from core.config.settings import Settings
from core.logs import Journal, LogPipeline
from core.metrics import build_metrics
from core.store.base import Attempt, LogRecord
from core.store.sqlite import SqliteStore
from core.usage.rollup import Rollups

TARGET = 20_000
MODELS = ("openai-main/gpt-4o", "openai-main/gpt-4o-mini", "anthropic-main/claude-sonnet")


def _json(body: dict[str, Any]) -> str:
    return orjson.dumps(body).decode()


def make_records(count: int) -> list[LogRecord]:
    base = time.time_ns() // 1_000_000
    return [
        LogRecord(
            id=f"bench-{i:08d}",
            created_at=base + i,
            model=MODELS[i % 3],
            resolved_model=MODELS[i % 3],
            provider_account=MODELS[i % 3].split("/")[0],
            subject=f"user:user{i % 50}@example.com",
            key_id=f"key-{i % 50}",
            status="success" if i % 20 else "error",
            http_status=200 if i % 20 else 502,
            stream=bool(i % 2),
            latency_ms=120.5 + i % 100,
            teams=("team:search",),
            metadata={
                "application": ("booking-bot", "search", "support")[i % 3],
                "environment": "staging",
                "customer_id": f"cust-{i * 7 % 200:03d}",
            },
            attempts=(Attempt("openai-main/gpt-4o", 200, "", 118.0),),
            input_tokens=42,
            output_tokens=128,
            total_tokens=170,
            cost=0.00061,
            ttft_ms=35.0 if i % 2 else None,
            upstream_ms=119.8,
            request_body=_json(
                {
                    "model": "openai-main/gpt-4o",
                    "messages": [
                        {"role": "system", "content": "You are a helpful assistant."},
                        {"role": "user", "content": f"Question number {i}: what is the weather?"},
                    ],
                    "temperature": 0.2,
                }
            ),
            response_body=_json(
                {
                    "id": f"chatcmpl-bench-{i}",
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "Sunny, 21 degrees. " * 8},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 42, "completion_tokens": 128, "total_tokens": 170},
                }
            ),
        )
        for i in range(count)
    ]


async def store_only(
    records: list[LogRecord], directory: Path, batch_size: int, rollups: Rollups | None = None
) -> float:
    store = SqliteStore(directory / f"store-only-{rollups is not None}.db", rollups=rollups)
    await store.open()
    try:
        started = time.perf_counter()
        for start in range(0, len(records), batch_size):
            await store.insert_logs(records[start : start + batch_size])
        return time.perf_counter() - started
    finally:
        await store.close()


class NullStore:
    """Acknowledges every insert at once: what is left is the pipeline's own cost."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def insert_logs(self, records: Sequence[LogRecord]) -> None: ...


async def through_pipeline(
    records: list[LogRecord],
    directory: Path,
    args: argparse.Namespace,
    *,
    null: bool = False,
    rollups: Rollups | None = None,
) -> tuple[float, float, float]:
    name = f"pipeline-{rollups is not None}.db"
    store: Any = NullStore() if null else SqliteStore(directory / name, rollups=rollups)
    await store.open()
    metrics = build_metrics(CollectorRegistry())
    pipeline = LogPipeline(
        store,
        Journal(directory / ("null-journal" if null else f"journal-{rollups is not None}")),
        metrics.logs,
        queue_size=args.queue_size,
        batch_size=args.batch_size,
        flush_interval=0.2,
    )
    pipeline.start()
    submit_seconds = 0.0
    try:
        started = time.perf_counter()
        low_water = args.queue_size // 2
        for start in range(0, len(records), 1000):
            if not args.burst and pipeline.queue_depth > low_water:
                await pipeline.wait_until(lambda: pipeline.queue_depth <= low_water)
            t = time.perf_counter()
            for record in records[start : start + 1000]:
                pipeline.submit(record)
            submit_seconds += time.perf_counter() - t
            await asyncio.sleep(0)  # requests arrive over time: let the writer run
        await pipeline.flush()
        elapsed = time.perf_counter() - started
    finally:
        await pipeline.close(10)
        await store.close()
    spilled = sum(
        metrics.registry.get_sample_value("llm_gateway_log_records_spilled_total", {"reason": r})
        or 0.0
        for r in ("queue_full", "store_unavailable")
    )
    return elapsed, submit_seconds, spilled


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=Settings().log_batch_size)
    parser.add_argument("--queue-size", type=int, default=10_000)
    parser.add_argument("--burst", action="store_true", help="submit all at once (spill path)")
    args = parser.parse_args()
    records = make_records(args.records)
    rollups = Rollups.from_config(load_config(Path("examples/gateway.yaml")).metrics)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        baseline = await store_only(records, directory, args.batch_size)
        rolled = await store_only(records, directory, args.batch_size, rollups)
        elapsed, submit_seconds, spilled = await through_pipeline(records, directory, args)
        with_rollups, _, spilled_rolled = await through_pipeline(
            records, directory, args, rollups=rollups
        )
        ceiling, _, _ = await through_pipeline(records, directory, args, null=True)
    n = len(records)
    sets = ", ".join(s.id for s in rollups.sets)
    rows = [
        ("store only, no rollups", n / baseline, ""),
        ("store only, with rollups", n / rolled, f"rollup sets: {sets}"),
        ("pipeline, no rollups", n / elapsed, "(before)"),
        ("pipeline, with rollups", n / with_rollups, f"(after) target >= {TARGET:,}"),
        ("pipeline over a no-op store", n / ceiling, "the pipeline's own ceiling"),
    ]
    print(f"records: {n:,}, batch size {args.batch_size}, queue size {args.queue_size}")
    for name, rate, note in rows:
        print(f"{name:<38} {rate:>12,.0f} records/s  {note}")
    print(f"{'submit() on the request path':<38} {submit_seconds / n * 1e6:>12.2f} µs/record")
    print(f"{'spilled to the journal':<38} {spilled + spilled_rolled:>12,.0f} records")


if __name__ == "__main__":
    asyncio.run(main())
