"""One OS process charging shared window counters, for the cross-process exactness test.

    python -m tests.contract.counters_worker sqlite PATH COUNT LIMIT NOW_MS
    python -m tests.contract.counters_worker mongo URI DATABASE COUNT LIMIT NOW_MS

Opens its own counters, prints `ready`, waits for a line on stdin (so that every process
charges at once), fires COUNT concurrent charges of 1 against key `shared` with LIMIT, and
prints how many were admitted.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from core.router.counters import Admitted, Charge, WindowCounters
from core.store.sqlite_counters import SqliteCounters

KEY = "shared"


def _counters(kind: str, where: list[str]) -> WindowCounters:
    if kind == "sqlite":
        return SqliteCounters(Path(where[0]))
    from pymongo import AsyncMongoClient

    from core.store.mongo_counters import MongoCounters

    uri, database = where
    return MongoCounters(AsyncMongoClient(uri)[database], owns_client=True)


async def main(kind: str, where: list[str], count: int, limit: int, now_ms: int) -> None:
    counters = _counters(kind, where)
    await counters.open()
    try:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        charge = Charge(KEY, 10, 1, 1, limit, now_ms + 3_600_000)
        results = await asyncio.gather(*(counters.charge([charge], now_ms) for _ in range(count)))
        print(sum(isinstance(r, Admitted) for r in results), flush=True)
    finally:
        await counters.aclose()


if __name__ == "__main__":
    kind, *where, count, limit, now_ms = sys.argv[1:]
    asyncio.run(main(kind, where, int(count), int(limit), int(now_ms)))
