"""The journal as a write-ahead log: a record is on disk before its call is answered."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry

from core.logs import Journal, LogPipeline
from core.logs.lines import record_to_line
from core.metrics import build_metrics
from core.store.base import LogRecord, Store
from core.store.sqlite import SqliteStore
from gateway.v1 import chat_pb2, route_service_pb2 as pb
from tests.logs.conftest import ADMIN, all_records, request_id_of, start_logging_core
from tests.logs.stores import Seam, record

WRITTEN = "llm_gateway_log_records_written_total"
FAILURES = "llm_gateway_log_write_failures_total"
PARAMS = chat_pb2.ChatParams(
    model="mock-main/echo", messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, text="hi")]
)


class FailingDisk(Journal):
    """A journal whose appends fail while `failing` (a full or broken disk)."""

    failing = False

    def append(self, records: Sequence[LogRecord]) -> int:
        if self.failing:
            raise OSError(28, "No space left on device")
        return super().append(records)


def pipeline_with(
    store: Store, journal: Journal, **options: Any
) -> tuple[LogPipeline, CollectorRegistry]:
    registry = CollectorRegistry()
    metrics = build_metrics(registry)
    options = {"flush_interval": 0.01, "retry_initial": 0.01, "retry_max": 0.05, **options}
    return LogPipeline(store, journal, metrics.logs, **options), registry


def journaled(journal: Journal) -> list[str]:
    return [request_id_of(r.id) for r in journal.read(0, 10_000).records]


async def test_each_answer_waits_for_its_record_in_the_journal_not_for_the_store(
    sqlite_store: SqliteStore, tmp_path: Path
) -> None:
    # A batch window far longer than the test: nothing reaches the store while it runs.
    async for core in start_logging_core(sqlite_store, tmp_path, flush_interval=60):
        journal = core.pipeline.journal
        metadata = (*ADMIN, ("x-request-id", "unary"))
        await core.route.Route(pb.RouteRequest(params=PARAMS), metadata=metadata)
        assert journaled(journal) == ["unary"]
        await core.route.Embed(
            pb.EmbedRequest(model="mock-main/embed", inputs=["x"]),
            metadata=(*ADMIN, ("x-request-id", "embed")),
        )
        assert journaled(journal) == ["unary", "embed"]
        stream = core.route.StreamRoute(
            pb.StreamRouteRequest(params=PARAMS), metadata=(*ADMIN, ("x-request-id", "stream"))
        )
        async for message in stream:
            if message.HasField("result"):
                # The last message: callers end on it (the facade sends [DONE]), so the
                # record must be on disk already, though the stream has not ended.
                assert journaled(journal)[-1] == "stream"
                assert journal.read(0, 10).records[-1].status == "success"
        assert core.sample(WRITTEN) == 0
        assert sorted(await core.records()) == ["embed", "stream", "unary"]  # exactly once


async def test_a_restart_re_sends_what_the_store_may_have_and_stores_it_once(
    sqlite_store: SqliteStore, tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "journal")
    journal.append([record(i) for i in range(5)])
    # The store took three before the process died, but it never acknowledged them.
    await sqlite_store.insert_logs([record(i) for i in range(3)])
    journal.close()
    pipeline, registry = pipeline_with(sqlite_store, Journal(tmp_path / "journal"))
    pipeline.start()
    await pipeline.flush()
    assert sorted(await all_records(sqlite_store)) == [record(i).id for i in range(5)]
    assert registry.get_sample_value("llm_gateway_log_records_replayed_total") == 5
    assert pipeline.journal.size == 0
    await pipeline.close(1)


class Busy(Seam):
    """Each insert finds the next records already submitted: the journal never runs empty."""

    def __init__(self, inner: Store, rounds: int) -> None:
        super().__init__(inner)
        self.pipeline: LogPipeline | None = None
        self.rounds = rounds
        self.sizes: list[int] = []

    async def insert_logs(self, records: Sequence[LogRecord]) -> None:
        assert self.pipeline is not None
        self.sizes.append(self.pipeline.journal.size)
        if len(self.batches) < self.rounds:
            for i in range(5):
                self.pipeline.submit(record(len(self.batches) * 5 + i + 5))
        await super().insert_logs(records)


async def test_the_journal_stays_small_while_records_keep_coming(
    sqlite_store: SqliteStore, tmp_path: Path
) -> None:
    busy = Busy(sqlite_store, rounds=40)
    journal = Journal(tmp_path / "journal", compact_bytes=4096)
    pipeline, _ = pipeline_with(cast(Store, busy), journal, flush_interval=0.001)
    busy.pipeline = pipeline
    pipeline.start()
    for i in range(5):
        pipeline.submit(record(i))
    await pipeline.wait_until(lambda: len(busy.batches) > busy.rounds)
    line = len(record_to_line(record(0)))
    # Never all acknowledged at once (truncating cannot help), yet the head never piles up.
    assert 5 * (busy.rounds + 1) * line > 10 * 4096
    assert max(busy.sizes) < 4096 + 20 * line
    await pipeline.flush()
    assert len(await all_records(sqlite_store)) == 5 * (busy.rounds + 1)
    await pipeline.close(1)


async def test_a_failing_disk_keeps_records_in_memory_until_disk_or_store_takes_them(
    sqlite_store: SqliteStore, tmp_path: Path
) -> None:
    seam = Seam(sqlite_store)
    journal = FailingDisk(tmp_path / "journal")
    pipeline, registry = pipeline_with(cast(Store, seam), journal)
    pipeline.start()
    journal.failing = True
    pipeline.submit(record(1))  # logged, never raised: the store takes it from the queue
    await pipeline.flush()
    seam.down = True
    for i in (2, 3):
        pipeline.submit(record(i))
    await pipeline.wait_until(lambda: (registry.get_sample_value(FAILURES) or 0) >= 2)
    assert journal.records == 0  # neither disk nor store took them: they wait in memory
    journal.failing = False
    await pipeline.wait_until(lambda: journal.pending == 2)  # the disk took them first
    seam.down = False
    await pipeline.flush()
    assert sorted(await all_records(sqlite_store)) == [record(i).id for i in (1, 2, 3)]
    # Disk and store down: the record waits in memory; the store takes it once back.
    seam.down = True
    journal.failing = True
    pipeline.submit(record(4))
    await pipeline.wait_until(lambda: (registry.get_sample_value(FAILURES) or 0) >= 4)
    seam.down = False
    await pipeline.flush()
    assert record(4).id in await all_records(sqlite_store)
    await pipeline.close(1)


async def test_close_journals_records_the_disk_refused_before(
    sqlite_store: SqliteStore, tmp_path: Path
) -> None:
    seam = Seam(sqlite_store)
    seam.down = True
    journal = FailingDisk(tmp_path / "journal")
    pipeline, _ = pipeline_with(cast(Store, seam), journal)
    pipeline.start()
    journal.failing = True
    pipeline.submit(record(1))
    journal.failing = False
    await pipeline.close(0.05)
    assert [r.id for r in Journal(tmp_path / "journal").read(0, 10).records] == [record(1).id]


async def test_close_with_disk_and_store_down_logs_the_loss_without_raising(
    sqlite_store: SqliteStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = FailingDisk(tmp_path / "journal")
    journal.failing = True
    pipeline, _ = pipeline_with(sqlite_store, journal, queue_size=1)
    for i in range(3):  # the writer is not started: the third finds no room in memory
        pipeline.submit(record(i))
    assert "lost 1 log records: the disk and the store fail" in caplog.text
    await pipeline.close(0.05)
    assert "lost 2 log records: neither store nor journal took them" in caplog.text
    pipeline.submit(record(9))  # after close: logged, not raised
    assert "submitted after shutdown" in caplog.text


async def test_records_the_store_has_not_taken_are_fsynced_by_the_writer(
    sqlite_store: SqliteStore, tmp_path: Path
) -> None:
    seam = Seam(sqlite_store)
    seam.down = True
    pipeline, registry = pipeline_with(cast(Store, seam), Journal(tmp_path / "journal"))
    pipeline.start()
    pipeline.submit(record(1))
    assert pipeline.journal.needs_sync  # in the page cache: survives a kill -9 already
    await pipeline.wait_until(lambda: (registry.get_sample_value(FAILURES) or 0) >= 1)
    await pipeline.wait_until(lambda: not pipeline.journal.needs_sync)  # and now a crash
    await pipeline.close(0.05)


async def test_a_journal_cut_short_from_outside_is_reported_not_spun_on(
    sqlite_store: SqliteStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = Journal(tmp_path / "journal")
    journal.append([record(1)])
    pipeline, _ = pipeline_with(sqlite_store, journal)
    journal.path.write_bytes(b"")  # someone empties the file under the running process
    pipeline.start()
    await pipeline.wait_until(lambda: "no complete line at byte 0" in caplog.text)
    await pipeline.close(0.05)
