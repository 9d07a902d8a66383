"""The append-only journal: log records the store has not acknowledged yet, one JSON line each.

Appends are whole-line `os.write`s on an O_APPEND descriptor, so a record is in the kernel
(and survives a kill -9) as soon as `append` returns; `sync` (fsync) makes it survive a power
loss too. Records are read back in order from a byte offset and the file is truncated only
once the store has acknowledged everything in it. A line torn by a crash mid-write is cut
off when the journal is opened, and journals of dead processes are adopted then.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from core.logs import journal_files as files
from core.logs.lines import BadLine, record_from_line, records_to_lines
from core.store.base import LogRecord

log = logging.getLogger(__name__)


class Journal:
    """This process's journal file under `directory` (see journal_files.py for which one)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._fd, self.path = files.claim(directory)
        self._size, self._records = self._recover()
        adopted = files.adopt_orphans(directory, self.path, self._fd)
        if adopted:
            self._size = os.fstat(self._fd).st_size
            self._records += adopted
        if self._records:
            log.info("journal %s holds %d log records from earlier runs", self.path, self._records)
        self._unsynced = False

    @property
    def size(self) -> int:
        """Bytes in the file."""
        return self._size

    @property
    def records(self) -> int:
        """Records in the file (read or not)."""
        return self._records

    @property
    def needs_sync(self) -> bool:
        """Whether records were appended since the last fsync."""
        return self._unsynced

    def append(self, records: Sequence[LogRecord]) -> None:
        """Writes the records at the end; they are readable (and survive a kill -9) on return."""
        if not records:
            return
        data = records_to_lines(list(records))
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._size += len(data)
        self._records += len(records)
        self._unsynced = True

    def sync(self) -> None:
        """fsync, if anything was appended since the last one (blocking: run it in a thread)."""
        if self._unsynced:
            self._unsynced = False
            os.fsync(self._fd)

    def read(self, offset: int, limit: int) -> tuple[list[LogRecord], int]:
        """Up to `limit` records from byte `offset`, and the offset after them.

        Unreadable lines are skipped (and logged): one bad line must not block the rest.
        """
        records: list[LogRecord] = []
        with open(self.path, "rb") as file:
            file.seek(offset)
            while len(records) < limit and offset < self._size:
                line = file.readline()
                if not line.endswith(b"\n"):
                    break  # never happens for our own writes; guards a concurrent truncate
                offset += len(line)
                try:
                    records.append(record_from_line(line))
                except BadLine as exc:
                    log.error("skipping journal line at byte %d of %s: %s", offset, self.path, exc)
        return records, offset

    def truncate(self) -> None:
        """Empties the file: call only when the store has acknowledged every record in it."""
        os.ftruncate(self._fd, 0)
        os.fsync(self._fd)
        self._size = 0
        self._records = 0
        self._unsynced = False

    def close(self) -> None:
        if self._fd >= 0:
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
