"""What an admission costs: the round trip of one `charge` call, per window-counter backend.

Times sequential `charge` calls of 1 and of 10 charges (one per rule, each on its own key,
always admitted) against LocalCounters (in memory), SqliteCounters (its own file in a
temporary directory) and, given a server, MongoCounters. Prints p50/p95 per call: the
price of exact counters shared by several processes or instances, over one process's own.

    make bench-admission   # or: .venv/bin/python -m bench.admission --samples 2000
    .venv/bin/python -m bench.admission --mongo-uri mongodb://127.0.0.1:27017
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from core.router.counters import Charge, WindowCounters
from core.router.local_counters import LocalCounters
from core.store.sqlite_counters import SqliteCounters

MONGO_URI_ENV = "GATEWAY_TEST_MONGODB_URI"
MINUTE_MS = 60_000
SIZES = (1, 10)


def _charges(count: int, now_ms: int) -> list[Charge]:
    # A one-minute window of one-second slots, as a requests-per-minute rule would charge;
    # a slot may be forgotten once it has left the window.
    slot = now_ms // 1000
    expires = (slot + 1) * 1000 + MINUTE_MS
    return [Charge(f"rule{i}:subject", slot, slot - 59, 1, 1 << 62, expires) for i in range(count)]


async def _time(counters: WindowCounters, size: int, samples: int) -> list[float]:
    """Microseconds per call."""
    timings: list[float] = []
    for i in range(samples + samples // 10):  # the first tenth warms up
        now_ms = time.time_ns() // 1_000_000
        charges = _charges(size, now_ms)
        started = time.perf_counter()
        await counters.charge(charges, now_ms)
        if i >= samples // 10:
            timings.append((time.perf_counter() - started) * 1e6)
    return timings


def _line(name: str, size: int, us: list[float]) -> str:
    ordered = sorted(us)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"{name:<8} {size:>2} charge{'s' if size > 1 else ' '}   "
        f"p50 {statistics.median(us):9.1f} µs   p95 {p95:9.1f} µs"
    )


async def _bench(name: str, counters: WindowCounters, samples: int) -> None:
    await counters.open()
    try:
        for size in SIZES:
            print(_line(name, size, await _time(counters, size, samples)), flush=True)
    finally:
        await counters.aclose()


async def main(samples: int, mongo_samples: int, mongo_uri: str | None) -> None:
    print(
        f"sequential charge() calls, round trip per call ({samples} each, MongoDB {mongo_samples})"
    )
    await _bench("local", LocalCounters(), samples)
    with tempfile.TemporaryDirectory() as tmp:
        await _bench("sqlite", SqliteCounters(Path(tmp) / "limits.db"), samples)
    if mongo_uri is None:
        print(f"mongo    skipped (give --mongo-uri or set {MONGO_URI_ENV})")
        return
    from pymongo import AsyncMongoClient

    from core.store.mongo_counters import MongoCounters

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    database = f"bench_admission_{uuid.uuid4().hex[:8]}"
    try:
        await _bench("mongo", MongoCounters(client[database]), mongo_samples)
    finally:
        await client.drop_database(database)
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    # Each call is a few network round trips: fewer samples give as steady a median.
    parser.add_argument("--mongo-samples", type=int, default=500)
    parser.add_argument("--mongo-uri", default=os.environ.get(MONGO_URI_ENV))
    args = parser.parse_args()
    asyncio.run(main(args.samples, args.mongo_samples, args.mongo_uri))
