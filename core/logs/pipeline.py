"""The log pipeline: request path -> journal (write-ahead) -> queue -> batch writer -> store.

`submit` builds the record and appends it to the journal before it returns, so a call's
record survives a kill -9 of the process before its answer goes out (one `write()` into
the page cache, ~1 µs: see bench/journal_append.py). It never blocks on the store and never
raises. The record also goes on an in-memory queue, so the writer inserts it in batches
bounded by size and time without reading it back; the store's acknowledgement moves the
journal's acknowledged offset, and acknowledged lines are compacted away.

Whenever the queue does not hold everything past that offset (it was full, the store
failed, or a journal is left by a previous run), the pipeline is *behind*: new records are
only journaled, and the writer replays the journal from the acknowledged offset, in order,
retrying a failing store with backoff, until it has caught up. Inserts are idempotent by
id, so re-sending what the store already has (after a crash) never duplicates a record.
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
    """A finished call whose record (JSON bodies, cost) is built when it is submitted."""

    def build(self) -> LogRecord: ...


Item = LogRecord | Deferred

NOT_JOURNALED = -1  # the offset of a record the journal could not take (a failing disk)


class LogPipeline:
    """Journal, queue and writer task in front of one store. `start()` inside the running loop."""

    def __init__(
        self,
        store: Store,
        journal: Journal,
        metrics: LogMetrics,
        *,
        queue_size: int = 10_000,
        batch_size: int = 2000,
        flush_interval: float = 0.05,
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
        # (record, journal offset after its line), in journal order.
        self._items: deque[tuple[LogRecord, int]] = deque()
        self._unjournaled: list[LogRecord] = []  # dropped from the queue, never journaled
        self._behind = journal.pending > 0  # the journal holds records the queue does not
        self._spilled_full = metrics.records_spilled.labels(SPILL_QUEUE_FULL)
        self._spilled_down = metrics.records_spilled.labels(SPILL_STORE_UNAVAILABLE)
        self._spilled = self._spilled_down  # why records submitted while behind skip the queue
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._cycled = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = False
        self._flushing = 0
        self._retry_at = 0.0
        self._backoff = retry_initial
        self._store_ok = True
        metrics.watch(
            queue_depth=lambda: len(self._items),
            journal_bytes=lambda: journal.size,
            journal_records=lambda: journal.pending,
        )
        if not self._behind:
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
        """Builds the record and journals it (durable on return), then queues it for the
        store; never blocks on the store, never raises."""
        try:
            record = _build(item)
            if record is None:
                return
            try:
                offset = self._journal.append((record,))
            except OSError:
                log.exception("cannot write the log journal %s", self._journal.path)
                offset = NOT_JOURNALED
            self._queue(record, offset)
        except Exception:
            log.exception("could not journal or queue a log record")

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
        """Writes what is not in the store yet for up to `drain_seconds`; the rest stays in
        the journal for the next start."""
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
        # Every queued record is in the journal already, but those the disk refused.
        lost = self._unjournaled + [r for r, offset in self._items if offset == NOT_JOURNALED]
        self._items.clear()
        self._unjournaled = []
        if lost:
            try:
                self._journal.append(lost)
            except OSError:
                log.exception("lost %d log records: neither store nor journal took them", len(lost))
        self._journal.close()
        if self._journal.pending:
            log.warning(
                "log store not reachable at shutdown: %d records stay in %s for the next start",
                self._journal.pending,
                self._journal.path,
            )

    # --- the request path
    def _queue(self, record: LogRecord, offset: int) -> None:
        self._idle.clear()
        items = self._items
        if self._closed:
            if offset == NOT_JOURNALED:
                log.error("log record %s lost: submitted after shutdown", record.id)
            return
        if not self._behind and len(items) < self._queue_size:
            items.append((record, offset))
            if len(items) == 1 or len(items) == self._batch_size:
                self._wake.set()
            return
        if offset == NOT_JOURNALED:
            self._keep_unjournaled([record])
        else:
            if not self._behind:
                # From here on the queue misses a record: read the journal from the gap on.
                self._behind = True
                self._spilled = self._spilled_full
            self._spilled.inc()
        self._wake.set()

    def _keep_unjournaled(self, records: list[LogRecord]) -> None:
        room = self._queue_size - len(self._unjournaled)
        if len(records) > room:
            log.error("lost %d log records: the disk and the store fail", len(records) - room)
        self._unjournaled.extend(records[: max(room, 0)])

    # --- the writer
    async def _run(self) -> None:
        while not (self._closing and self._caught_up()):
            try:
                await self._wait_for_work()
                await self._cycle()
                if self._journal.needs_sync:
                    # Survives a machine crash too, from here on (off the loop: fsync blocks).
                    await asyncio.to_thread(self._journal.sync)
                self._journal.compact()
            except Exception:
                log.exception("log writer cycle failed; retrying")
                self._failed_attempt()
            if self._caught_up():
                self._idle.set()
            cycled, self._cycled = self._cycled, asyncio.Event()
            cycled.set()

    def _caught_up(self) -> bool:
        return not self._items and not self._behind and not self._unjournaled

    async def _wait_for_work(self) -> None:
        now = asyncio.get_running_loop().time()
        if not self._items:
            if self._behind or self._unjournaled:
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

    async def _cycle(self) -> None:
        if self._unjournaled and not await self._rescue():
            return
        if self._items:
            # Even when behind: the queue holds the records before the gap, in order.
            await self._write_queued()
        elif self._behind and asyncio.get_running_loop().time() >= self._retry_at:
            await self._replay()

    async def _write_queued(self) -> None:
        items = self._items
        batch = [items.popleft() for _ in range(min(len(items), self._batch_size))]
        records = [record for record, _ in batch]
        try:
            await self._store.insert_logs(records)
        except Exception as exc:
            self._store_failed(exc)
            self._drop_queue(batch)
            return
        journaled = [offset for _, offset in batch if offset != NOT_JOURNALED]
        if journaled:
            self._journal.acknowledge(journaled[-1], len(journaled))
        self._metrics.records_written.inc(len(records))
        self._store_answered()

    def _drop_queue(self, batch: list[tuple[LogRecord, int]]) -> None:
        # The store failed: the journal has these; replay them from it once the store is back.
        pending = batch + list(self._items)
        self._items.clear()
        self._keep_unjournaled([r for r, offset in pending if offset == NOT_JOURNALED])
        self._spilled_down.inc(sum(1 for _, offset in pending if offset != NOT_JOURNALED))
        self._behind = True
        self._spilled = self._spilled_down

    async def _replay(self) -> None:
        journal = self._journal
        while True:
            start, end = journal.acknowledged, journal.size
            # Reading and parsing a slice of the journal in a thread keeps the loop free.
            part = await asyncio.to_thread(journal.read, start, self._batch_size, end)
            if part.records:
                try:
                    await self._store.insert_logs(part.records)
                except Exception as exc:
                    self._store_failed(exc)
                    return
                self._metrics.records_replayed.inc(len(part.records))
                self._metrics.records_written.inc(len(part.records))
                self._store_answered()
            if not part.lines and start < end:
                raise OSError(f"no complete line at byte {start} of {journal.path}")
            journal.acknowledge(part.end, part.lines)
            if journal.acknowledged >= journal.size:
                # Checked after the last await: from here on, new records are queued again.
                self._behind = False
                return

    async def _rescue(self) -> bool:
        # Records the disk refused: into the journal if it takes them now, else the store.
        # False when neither did.
        records, self._unjournaled = self._unjournaled, []
        try:
            self._journal.append(records)
            self._behind = True  # they are past the acknowledged offset, not in the queue
            return True
        except OSError:
            log.exception("cannot write the log journal %s", self._journal.path)
        try:
            await self._store.insert_logs(records)
        except Exception as exc:
            self._unjournaled = records + self._unjournaled
            self._store_failed(exc)
            return False
        self._metrics.records_written.inc(len(records))
        self._store_answered()
        return True

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
