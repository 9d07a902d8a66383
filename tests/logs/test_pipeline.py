"""The pipeline over a real SqliteStore: batching, journal on failure, replay, spill, drain."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any, cast

from prometheus_client import CollectorRegistry
from pymongo.errors import AutoReconnect

from core.logs import LogPipeline
from core.metrics import CoreMetrics
from core.store.base import Store
from core.store.mongo import MongoStore
from core.store.sqlite import SqliteStore
from tests.fakes.mongo import FakeMongoClient
from tests.logs.conftest import LoggingCore, all_records, make_pipeline, start_logging_core
from tests.logs.stores import Seam, record

WRITTEN = "llm_gateway_log_records_written_total"
FAILURES = "llm_gateway_log_write_failures_total"
SPILLED = "llm_gateway_log_records_spilled_total"
REPLAYED = "llm_gateway_log_records_replayed_total"
JOURNAL_RECORDS = "llm_gateway_log_journal_records"
JOURNAL_BYTES = "llm_gateway_log_journal_bytes"
QUEUE_DEPTH = "llm_gateway_log_queue_depth"


def sample(metrics: CoreMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def pipeline_over(seam: Seam, tmp_path: Path, **options: Any) -> tuple[LogPipeline, CoreMetrics]:
    return make_pipeline(cast(Store, seam), tmp_path, CollectorRegistry(), **options)


async def test_batches_are_bounded_by_size(sqlite_store: SqliteStore, tmp_path: Path) -> None:
    seam = Seam(sqlite_store)
    pipeline, metrics = pipeline_over(seam, tmp_path, batch_size=10, flush_interval=60)
    for i in range(35):
        pipeline.submit(record(i))
    assert sample(metrics, QUEUE_DEPTH) == 35
    pipeline.start()
    # Three full batches go without waiting for the (long) window; flush sends the rest.
    await pipeline.wait_until(lambda: sample(metrics, WRITTEN) == 30)
    assert [len(b) for b in seam.batches] == [10, 10, 10]
    await pipeline.flush()
    assert [len(b) for b in seam.batches] == [10, 10, 10, 5]
    assert len(await all_records(sqlite_store)) == 35
    assert sample(metrics, QUEUE_DEPTH) == 0
    await pipeline.close(1)


async def test_a_partial_batch_goes_when_its_window_ends(
    sqlite_store: SqliteStore, tmp_path: Path
) -> None:
    pipeline, metrics = make_pipeline(sqlite_store, tmp_path, batch_size=500, flush_interval=0.05)
    pipeline.start()
    for i in range(3):
        pipeline.submit(record(i))
    await pipeline.wait_until(lambda: sample(metrics, WRITTEN) == 3)
    assert len(await all_records(sqlite_store)) == 3
    await pipeline.close(1)


async def test_store_down_mid_run_journals_then_replays_in_order_without_duplicates(
    sqlite_store: SqliteStore, tmp_path: Path
) -> None:
    seam = Seam(sqlite_store)
    pipeline, metrics = pipeline_over(seam, tmp_path, batch_size=8)
    pipeline.start()
    for i in range(20):
        pipeline.submit(record(i))
    await pipeline.flush()
    seam.down = True
    for i in range(20, 50):
        pipeline.submit(record(i))
    await pipeline.wait_until(lambda: sample(metrics, FAILURES) >= 1)
    assert pipeline.queue_depth == 0  # the journal has them: nothing waits in memory
    assert sample(metrics, SPILLED, reason="store_unavailable") == 30
    assert sample(metrics, JOURNAL_RECORDS) == 30
    assert sample(metrics, JOURNAL_BYTES) == pipeline.journal.path.stat().st_size > 0
    seam.down = False
    seam.batches.clear()
    await pipeline.flush()
    records = await all_records(sqlite_store)
    assert sorted(records) == [record(i).id for i in range(50)]
    assert records[record(33).id] == record(33)
    replayed = [i for batch in seam.batches for i in batch]
    assert replayed == [record(i).id for i in range(20, 50)]  # journal order
    assert sample(metrics, REPLAYED) == 30
    assert sample(metrics, WRITTEN) == 50
    assert pipeline.journal.path.stat().st_size == 0
    await pipeline.close(1)


async def test_sqlite_locked_by_another_connection_requests_keep_succeeding(
    sqlite_store: SqliteStore, tmp_path: Path
) -> None:
    async for core in start_logging_core(sqlite_store, tmp_path, flush_interval=0.3):
        await _under_a_write_lock(core, tmp_path / "gateway.db")


async def _under_a_write_lock(core: LoggingCore, database: Path) -> None:
    journal = core.pipeline.journal
    await _chat(core, "before")
    await core.pipeline.flush()
    # Another process holds the write lock: inserts fail after SQLite's busy timeout.
    blocker = sqlite3.connect(database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        # One batch (within the window), so one busy timeout.
        await asyncio.gather(*(_chat(core, f"locked-{i}") for i in range(5)))
        assert journal.pending == 5  # journaled before each answer
        await core.pipeline.wait_until(lambda: core.sample(FAILURES) >= 1)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    records = await core.records()
    assert sorted(records) == ["before", *(f"locked-{i}" for i in range(5))]
    assert core.sample(REPLAYED) == 5


async def test_full_queue_spills_to_the_journal_never_blocking(
    sqlite_store: SqliteStore, tmp_path: Path
) -> None:
    pipeline, metrics = make_pipeline(sqlite_store, tmp_path, queue_size=5)
    for i in range(12):  # the writer is not started: the queue fills up
        pipeline.submit(record(i))
    assert pipeline.queue_depth == 5
    assert pipeline.journal.pending == 12  # every record is journaled; 7 only there
    assert sample(metrics, SPILLED, reason="queue_full") == 7
    pipeline.start()
    await pipeline.flush()
    assert len(await all_records(sqlite_store)) == 12
    assert sample(metrics, REPLAYED) == 7
    assert pipeline.journal.pending == pipeline.journal.size == 0
    await pipeline.close(1)


async def test_zero_queue_journals_every_record(sqlite_store: SqliteStore, tmp_path: Path) -> None:
    pipeline, metrics = make_pipeline(sqlite_store, tmp_path, queue_size=0)
    pipeline.start()
    for i in range(4):
        pipeline.submit(record(i))
    await pipeline.flush()
    assert len(await all_records(sqlite_store)) == 4
    assert sample(metrics, SPILLED, reason="queue_full") == 4
    await pipeline.close(1)


async def test_close_drains_the_queue_without_waiting_for_the_window(
    sqlite_store: SqliteStore, tmp_path: Path
) -> None:
    pipeline, _ = make_pipeline(sqlite_store, tmp_path, flush_interval=60)
    pipeline.start()
    for i in range(100):
        pipeline.submit(record(i))
    await asyncio.wait_for(pipeline.close(10), 5)
    assert len(await all_records(sqlite_store)) == 100
    assert pipeline.journal.path.stat().st_size == 0


async def test_close_with_the_store_down_leaves_records_for_the_next_start(
    sqlite_store: SqliteStore, tmp_path: Path
) -> None:
    seam = Seam(sqlite_store)
    seam.down = True
    pipeline, _ = pipeline_over(seam, tmp_path)
    pipeline.start()
    for i in range(10):
        pipeline.submit(record(i))
    await pipeline.close(0.2)
    assert len(await all_records(sqlite_store)) == 0
    # The next process replays the journal before anything else.
    again, metrics = make_pipeline(sqlite_store, tmp_path)
    assert again.journal.records == 10
    again.start()
    await again.flush()
    assert len(await all_records(sqlite_store)) == 10
    assert sample(metrics, REPLAYED) == 10
    await again.close(1)


async def test_close_leaves_a_batch_stuck_in_the_store_in_the_journal(
    sqlite_store: SqliteStore, tmp_path: Path
) -> None:
    seam = Seam(sqlite_store)
    pipeline, _ = pipeline_over(seam, tmp_path)
    pipeline.start()
    seam.stall = True
    for i in range(7):
        pipeline.submit(record(i))
    await seam.entered.wait()
    assert pipeline.queue_depth == 0
    await pipeline.close(0.1)  # the insert never returns: cancelled, its batch stays journaled
    assert len(pipeline.journal.read(0, 100).records) == 7  # (closed, yet readable)
    seam.stall = False
    again, _ = make_pipeline(sqlite_store, tmp_path)
    again.start()
    await again.flush()
    assert len(await all_records(sqlite_store)) == 7
    await again.close(1)


async def test_submit_after_close_never_raises(sqlite_store: SqliteStore, tmp_path: Path) -> None:
    pipeline, _ = make_pipeline(sqlite_store, tmp_path)
    pipeline.start()
    await pipeline.close(1)
    pipeline.submit(record(1))  # logged, not raised


async def _chat(core: LoggingCore, request_id: str) -> None:
    await core.openai.chat.completions.create(
        model="mock-main/echo",
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"x-request-id": request_id},
    )


async def test_mongo_stand_in_raising_auto_reconnect_then_recovering(tmp_path: Path) -> None:
    client = FakeMongoClient()
    store = MongoStore("mongodb://stand-in", client=client)
    await store.open()
    pipeline, metrics = make_pipeline(store, tmp_path, batch_size=16)
    pipeline.start()
    for i in range(20):
        pipeline.submit(record(i))
    await pipeline.flush()
    client.fail_writes = AutoReconnect("connection reset")
    for i in range(20, 50):
        pipeline.submit(record(i))
    await pipeline.wait_until(lambda: sample(metrics, FAILURES) >= 1)
    assert pipeline.journal.pending == 30
    client.fail_writes = None
    await pipeline.flush()
    records = await all_records(store)
    assert sorted(records) == [record(i).id for i in range(50)]
    assert records[record(42).id] == record(42)
    assert sample(metrics, REPLAYED) == 30
    await pipeline.close(1)
    await store.close()
