"""What making each log record durable before its answer costs on the request path.

Calls finish in waves of C per event-loop iteration (C tasks woken together, as a busy
gateway's do). Per record, CPU time of:

- queue only: what `submit` did before the journal became write-ahead (no durability);
- write each: `LogPipeline.submit` now: the record as a JSON line, one `write()` into the
  page cache (survives a kill -9 of the process), then the queue;
- group commit: the lines of a wave joined into one `write()` at the end of the iteration,
  each call awaiting it (the alternative; it needs an await before every answer).

Building the record (its JSON bodies) is not included: it costs the same in every variant
(it moved from the writer to `submit`, it was not added). Median of several rounds, uvloop.

    .venv/bin/python -m bench.journal_append            # --records 20000 --rounds 7
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvloop
from prometheus_client import CollectorRegistry

from bench.log_ingest import make_records
from core.logs import Journal, LogPipeline
from core.logs.lines import record_to_line
from core.metrics import build_metrics
from core.store.base import LogRecord

Finish = Callable[[LogRecord], Awaitable[None]]


class NoStore:
    """Never reached: the benchmark's pipeline writer is not started."""


async def _waves(records: list[LogRecord], concurrency: int, finish: Finish) -> float:
    """CPU µs per record for `finish` called by `concurrency` tasks woken together."""
    gate = asyncio.Event()
    done = 0

    async def task(record: LogRecord) -> None:
        nonlocal done
        await gate.wait()
        await finish(record)
        done += 1

    spent = 0.0
    for start in range(0, len(records), concurrency):
        wave = [asyncio.create_task(task(r)) for r in records[start : start + concurrency]]
        await asyncio.sleep(0)  # every task waits at the gate
        began = time.process_time()
        gate.set()
        await asyncio.gather(*wave)
        spent += time.process_time() - began
        gate.clear()
    return spent / len(records) * 1e6


async def queue_only(records: list[LogRecord], concurrency: int, _: Path) -> float:
    queue: deque[LogRecord] = deque()

    async def finish(record: LogRecord) -> None:
        queue.append(record)

    return await _waves(records, concurrency, finish)


async def write_each(records: list[LogRecord], concurrency: int, directory: Path) -> float:
    journal = Journal(directory / "write-each")
    metrics = build_metrics(CollectorRegistry()).logs
    pipeline = LogPipeline(NoStore(), journal, metrics, queue_size=len(records))  # type: ignore[arg-type]

    async def finish(record: LogRecord) -> None:
        pipeline.submit(record)

    try:
        return await _waves(records, concurrency, finish)
    finally:
        journal.close()


async def group_commit(records: list[LogRecord], concurrency: int, directory: Path) -> float:
    journal = Journal(directory / "group")
    loop = asyncio.get_running_loop()
    pending: list[bytes] = []
    committed: asyncio.Future[None] | None = None

    def commit() -> None:
        nonlocal committed
        journal.append_lines(b"".join(pending), len(pending))
        pending.clear()
        assert committed is not None
        committed.set_result(None)
        committed = None

    async def finish(record: LogRecord) -> None:
        nonlocal committed
        pending.append(record_to_line(record))
        if committed is None:
            committed = loop.create_future()
            loop.call_soon(commit)
        await committed

    try:
        return await _waves(records, concurrency, finish)
    finally:
        journal.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    records = make_records(args.records)
    line = len(record_to_line(records[0]))
    variants = {"queue only": queue_only, "write each": write_each, "group commit": group_commit}
    print(f"{args.records:,} records of ~{line} bytes, median of {args.rounds} rounds, CPU µs")
    print(f"{'calls ending per loop iteration':<34}" + "".join(f"{c:>10}" for c in (1, 8, 64)))
    with tempfile.TemporaryDirectory() as tmp:
        for name, variant in variants.items():
            row = []
            for concurrency in (1, 8, 64):
                runs = []
                for n in range(args.rounds):
                    directory = Path(tmp) / f"{name}-{concurrency}-{n}".replace(" ", "-")
                    runs.append(await variant(records, concurrency, directory))
                row.append(statistics.median(runs))
            print(f"{name:<34}" + "".join(f"{v:>10.2f}" for v in row))


if __name__ == "__main__":
    uvloop.run(main())
