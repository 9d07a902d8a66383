"""The log pipeline: request path -> bounded queue -> batch writer -> store, with a journal.

`submit` never blocks and never raises: a record goes on the in-memory queue, or, when the
queue is full, straight into the journal. One writer task drains the queue in batches bounded
by size and time. When the store fails, batches go to the journal and the store is retried
with backoff; once it answers, the journal is replayed in order and truncated only after the
store acknowledged all of it (inserts are idempotent by id, so a crash in between re-sends,
never duplicates). A journal left by a previous run is replayed first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol

from core.logs.journal import Journal
from core.metrics import SPILL_QUEUE_FULL, SPILL_STORE_UNAVAILABLE, LogMetrics
from core.store.base import LogRecord, Store

log = logging.getLogger(__name__)


class Deferred(Protocol):
    """A finished call whose record is built (JSON bodies, cost) by the writer, off the hot path."""

    def build(self) -> LogRecord: ...


Item = LogRecord | Deferred

_BUILD_SLICE = 32


class LogPipeline:
    """Queue, writer task and journal in front of one store. `start()` inside the running loop."""

    def __init__(
        self,
        store: Store,
        journal: Journal,
        metrics: LogMetrics,
        *,
        queue_size: int = 10_000,
        batch_size: int = 2000,
        flush_interval: float = 0.2,
        retry_initial: float = 0.1,
        retry_max: float = 5.0,
    ) -> None:
        self._store = store
        self._journal = journal
        self._metrics = metrics
        self._queue_size = queue_size
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._items: deque[Item] = deque()
        self._inflight: list[LogRecord] = []  # taken from the queue, neither stored nor journaled
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._cycled = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = False
        self._flushing = 0
        self._retry_at = 0.0
        self._backoff = retry_initial
        self._replay_offset = 0
        self._store_ok = True
        metrics.watch(
            queue_depth=lambda: len(self._items),
            journal_bytes=lambda: journal.size,
            journal_records=lambda: journal.records,
        )
        if not journal.records:
            self._idle.set()

    @property
    def queue_depth(self) -> int:
        return len(self._items)

    @property
    def journal(self) -> Journal:
        return self._journal

    def start(self) -> None:
        """Starts the writer; it replays a journal left by a previous run before anything else."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="log-writer")

    def submit(self, item: Item) -> None:
        """Queues a record (or a finished call to build one from); never blocks, never raises."""
        try:
            items = self._items
            if len(items) < self._queue_size and not self._closed:
                items.append(item)
                if len(items) == 1 or len(items) == self._batch_size:
                    self._wake.set()
                self._idle.clear()
                return
            record = _build(item)
            if record is not None:
                self._spill([record], SPILL_QUEUE_FULL)
        except Exception:
            log.exception("could not queue or journal a log record")

    async def flush(self) -> None:
        """Returns once everything submitted so far is in the store (retrying a down store now)."""
        self._flushing += 1
        self._retry_at = 0.0
        self._wake.set()
        try:
            await self._idle.wait()
        finally:
            self._flushing -= 1

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Returns once `predicate()` holds, checked again after each writer cycle."""
        while not predicate():
            await self._cycled.wait()

    async def close(self, drain_seconds: float) -> None:
        """Writes queue and journal to the store for up to `drain_seconds`; the rest stays put."""
        if self._closed:
            return
        self._closing = True
        self._retry_at = 0.0
        self._wake.set()
        task = self._task
        if task is not None:
            done, _ = await asyncio.wait({task}, timeout=drain_seconds)
            if not done:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(task, return_exceptions=True)
        self._closed = True
        leftover = self._inflight + [r for r in map(_build, self._items) if r is not None]
        self._inflight = []
        self._items.clear()
        self._journal.append(leftover)
        if self._journal.records:
            log.warning(
                "log store not reachable at shutdown: %d records stay in %s for the next start",
                self._journal.records,
                self._journal.path,
            )
        self._journal.close()

    # --- the writer
    async def _run(self) -> None:
        while not (self._closing and not self._items and not self._journal.records):
            try:
                await self._wait_for_work()
                await self._write(await self._take())
                if self._journal.needs_sync:
                    await asyncio.to_thread(self._journal.sync)
            except Exception:
                log.exception("log writer cycle failed; retrying")
                self._items.extendleft(reversed(self._inflight))  # back in front, in order
                self._inflight = []
                self._failed_attempt()
            if not self._items and not self._journal.records and not self._inflight:
                self._idle.set()
            cycled, self._cycled = self._cycled, asyncio.Event()
            cycled.set()

    async def _wait_for_work(self) -> None:
        now = asyncio.get_running_loop().time()
        if not self._items:
            if self._journal.records:
                if now < self._retry_at:
                    await self._wait(self._retry_at - now)
            elif not self._closing:
                await self._wait(None)
        if self._items and len(self._items) < self._batch_size and not self._urgent():
            # A time-bounded batch window: more records per insert, far fewer inserts.
            await self._wait(self._flush_interval)

    async def _wait(self, seconds: float | None) -> None:
        # Every reason to wake is also state checked before waiting, so clearing loses nothing.
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    def _urgent(self) -> bool:
        return self._closing or self._flushing > 0

    async def _take(self) -> list[LogRecord]:
        # Building a record (JSON bodies) costs ~40 µs: build a batch in slices, letting
        # requests run in between. Items leave the queue only once built (close() finds them).
        items = self._items
        inflight: list[LogRecord] = []
        self._inflight = inflight
        remaining = min(len(items), self._batch_size)
        while remaining:
            for _ in range(min(remaining, _BUILD_SLICE)):
                built = _build(items.popleft())
                if built is not None:
                    inflight.append(built)
                remaining -= 1
            if remaining:
                await asyncio.sleep(0)
        return inflight

    async def _write(self, records: list[LogRecord]) -> None:
        if self._journal.records and asyncio.get_running_loop().time() >= self._retry_at:
            await self._replay()
        if not records:
            return
        if self._journal.records:  # the store is still behind: stay in order behind the journal
            self._journal_inflight(SPILL_STORE_UNAVAILABLE)
            return
        try:
            await self._store.insert_logs(records)
        except Exception as exc:
            self._store_failed(exc)
            self._journal_inflight(SPILL_STORE_UNAVAILABLE)
            return
        self._inflight = []
        self._metrics.records_written.inc(len(records))
        self._store_answered()

    async def _replay(self) -> None:
        journal = self._journal
        while True:
            start = self._replay_offset
            # Reading and parsing a slice of the journal in a thread keeps the loop free.
            records, offset = await asyncio.to_thread(journal.read, start, self._batch_size)
            if records:
                try:
                    await self._store.insert_logs(records)
                except Exception as exc:
                    self._store_failed(exc)
                    return
                self._metrics.records_replayed.inc(len(records))
                self._metrics.records_written.inc(len(records))
                self._store_answered()
            self._replay_offset = offset
            if offset >= journal.size or (not records and offset == start):
                # Checked after the last await: nothing was appended that is not acknowledged.
                journal.truncate()
                self._replay_offset = 0
                return

    def _journal_inflight(self, reason: str) -> None:
        records = self._inflight
        try:
            self._spill(records, reason)
        except OSError:
            # The disk is failing too: keep the records in memory and try again later.
            log.exception("cannot write the log journal %s", self._journal.path)
            self._items.extendleft(reversed(records))
            self._failed_attempt()
        self._inflight = []

    def _spill(self, records: list[LogRecord], reason: str) -> None:
        self._journal.append(records)
        self._metrics.records_spilled.labels(reason).inc(len(records))
        self._idle.clear()
        self._wake.set()

    def _store_failed(self, exc: Exception) -> None:
        self._metrics.write_failures.inc()
        if self._store_ok:
            self._store_ok = False
            log.warning(
                "log store unavailable (%s: %s): keeping records in %s",
                type(exc).__name__,
                exc,
                self._journal.path,
            )
        self._failed_attempt()

    def _failed_attempt(self) -> None:
        self._retry_at = asyncio.get_running_loop().time() + self._backoff
        self._backoff = min(self._backoff * 2, self._retry_max)

    def _store_answered(self) -> None:
        self._backoff = self._retry_initial
        if not self._store_ok:
            self._store_ok = True
            log.info("log store is back")


def _build(item: Item) -> LogRecord | None:
    if isinstance(item, LogRecord):
        return item
    try:
        return item.build()
    except Exception:  # a bug in building one record must not stop the others
        log.exception("could not build a log record")
        return None
