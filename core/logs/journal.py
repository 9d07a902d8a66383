"""The write-ahead journal: every log record, one JSON line, before its call is answered.

Appends are whole-line `os.write`s on an O_APPEND descriptor, so a record is in the kernel
(and survives a kill -9 of the process) as soon as `append` returns; `sync` (fsync, which
the writer runs in a thread, never on the request path) makes it survive a machine crash
too. The writer acknowledges what the store took, from the front; acknowledged lines are
dropped by `compact`: the file is emptied when everything in it is acknowledged, or its
unacknowledged tail is moved into a fresh file once the acknowledged head is big. A line
torn by a crash mid-write is cut off when the journal is opened, and journals of dead
processes are adopted then (journal_files.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.logs import journal_files as files
from core.logs.lines import BadLine, record_from_line, record_to_line, records_to_lines
from core.store.base import LogRecord

log = logging.getLogger(__name__)

# An acknowledged head this big is dropped even while records keep coming (the tail, about
# one batch window of records, is copied): ~1,000 records, re-sent at most after a crash.
COMPACT_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Slice:
    """Records read from the journal, the offset after them, and the lines they took."""

    records: list[LogRecord]
    end: int
    lines: int


class Journal:
    """This process's journal file under `directory` (see journal_files.py for which one)."""

    def __init__(self, directory: Path, *, compact_bytes: int = COMPACT_BYTES) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._compact_bytes = compact_bytes
        self._fd, self.path = files.claim(directory)
        self._size, self._records = self._recover()
        adopted = files.adopt_orphans(directory, self.path, self._fd)
        if adopted:
            self._size = os.fstat(self._fd).st_size
            self._records += adopted
        if self._records:
            log.info("journal %s holds %d log records from earlier runs", self.path, self._records)
        self._acked = 0  # bytes at the front that the store has
        self._acked_records = 0
        self._synced = self._size  # bytes known to be on disk (what was there at open)

    @property
    def size(self) -> int:
        """Bytes in the file."""
        return self._size

    @property
    def records(self) -> int:
        """Records in the file, acknowledged or not."""
        return self._records

    @property
    def acknowledged(self) -> int:
        """Bytes at the front of the file that the store has."""
        return self._acked

    @property
    def pending(self) -> int:
        """Records in the file that the store has not acknowledged."""
        return self._records - self._acked_records

    @property
    def needs_sync(self) -> bool:
        """Whether unacknowledged records were appended since the last fsync."""
        return self._size > max(self._synced, self._acked)

    def append(self, records: Sequence[LogRecord]) -> int:
        """Writes the records at the end; returns the offset after them. On return they are
        readable and survive a kill -9. Raises OSError (nothing counted) if the write fails."""
        if not records:
            return self._size
        if len(records) == 1:  # the request path's case: one record per finished call
            return self.append_lines(record_to_line(records[0]), 1)
        return self.append_lines(records_to_lines(list(records)), len(records))

    def append_lines(self, data: bytes, count: int) -> int:
        """`append` for `count` records already turned into lines (lines.py)."""
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._size += len(data)
        self._records += count
        return self._size

    def acknowledge(self, offset: int, records: int) -> None:
        """The store has every record before byte `offset` (`records` more than before)."""
        if offset > self._acked:
            self._acked = offset
            self._acked_records += records

    def sync(self) -> None:
        """fsync (blocking: run it in a thread): what was appended so far survives a crash."""
        size = self._size
        if size > self._synced:
            os.fsync(self._fd)
            self._synced = max(self._synced, size)

    def read(self, offset: int, limit: int, end: int | None = None) -> Slice:
        """Up to `limit` records from byte `offset`, not reading past `end` (default: the size).

        Safe in a thread while appends go on: everything before `end` is completely written.
        Unreadable lines are skipped (and logged): one bad line must not block the rest.
        """
        end = self._size if end is None else end
        records: list[LogRecord] = []
        lines = 0
        with open(self.path, "rb") as file:
            file.seek(offset)
            while len(records) < limit and offset < end:
                line = file.readline()
                if not line.endswith(b"\n"):
                    break  # never happens for our own writes; guards a concurrent compaction
                offset += len(line)
                lines += 1
                try:
                    records.append(record_from_line(line))
                except BadLine as exc:
                    log.error("skipping journal line at byte %d of %s: %s", offset, self.path, exc)
        return Slice(records, offset, lines)

    def compact(self, *, force: bool = False) -> None:
        """Drops acknowledged lines: empties the file when all are, else moves the tail to a
        fresh file once the head reaches `compact_bytes` (any size with `force`)."""
        if not self._acked:
            return
        try:
            if self._acked >= self._size:
                # No fsync: if the truncation is lost in a crash, the replay re-sends records
                # the store has, which it ignores (inserts are idempotent by id).
                os.ftruncate(self._fd, 0)
                self._size = self._records = 0
            elif force or self._acked >= self._compact_bytes:
                self._fd = files.replace_with_tail(self.path, self._fd, self._acked, self._size)
                self._size -= self._acked
                self._records -= self._acked_records
            else:
                return
        except OSError:
            log.exception("could not compact the log journal %s; it keeps growing", self.path)
            return
        self._acked = self._acked_records = self._synced = 0

    def close(self) -> None:
        """Compacts, fsyncs and closes; what the store has not acknowledged stays for the
        next start."""
        if self._fd >= 0:
            self.compact(force=True)
            self.sync()
            os.close(self._fd)
            self._fd = -1

    def _recover(self) -> tuple[int, int]:
        # Counts the lines a previous run left, cutting off a last line torn by a crash.
        size = os.fstat(self._fd).st_size
        end, lines = files.complete_length(self._fd)
        if end < size:
            log.warning("journal %s: dropping %d bytes of a torn last line", self.path, size - end)
            os.ftruncate(self._fd, end)
        return end, lines
