"""Which journal file a process writes: one per process, claimed with flock, orphans adopted.

Several core processes may share a data dir (and its SQLite store). Each claims the first
journal file no live process holds (`logs.jsonl`, `logs-1.jsonl`, ...), and adopts the files
of processes that died: their complete lines are appended to its own file, which is synced
before the orphan is deleted, so a record is never in zero files (at worst in two, and
inserts are idempotent by id). Compaction swaps in a fresh file holding only the tail, locked
before it takes the name, so the name is always held by its live process.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

FIRST = "logs.jsonl"
PATTERN = "logs*.jsonl"
_READ_CHUNK = 1 << 16


def claim(directory: Path) -> tuple[int, Path]:
    """Opens and locks the first journal file no other process holds: (O_APPEND fd, path)."""
    for slot in itertools.count():
        path = directory / (FIRST if slot == 0 else f"logs-{slot}.jsonl")
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        if _lock(fd, path):
            return fd, path
        os.close(fd)
    raise AssertionError("unreachable")  # pragma: no cover


def complete_length(fd: int) -> tuple[int, int]:
    """(bytes up to the last newline, number of lines) of an open file."""
    end = lines = position = 0
    os.lseek(fd, 0, os.SEEK_SET)
    while chunk := os.read(fd, _READ_CHUNK):
        lines += chunk.count(b"\n")
        last = chunk.rfind(b"\n")
        if last >= 0:
            end = position + last + 1
        position += len(chunk)
    return end, lines


def adopt_orphans(directory: Path, own: Path, own_fd: int) -> int:
    """Moves the complete lines of unheld journal files into ours; returns the lines moved."""
    moved = 0
    for path in sorted(directory.glob(PATTERN)):
        if path == own:
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # adopted by another process meanwhile
        try:
            if not _lock(fd, path):
                continue  # a live process writes it
            end, lines = complete_length(fd)
            _copy(fd, end, own_fd)
            os.fsync(own_fd)
            path.unlink()
            moved += lines
            if lines:
                log.info("adopted %d log records from the orphaned journal %s", lines, path)
        finally:
            os.close(fd)
    return moved


def replace_with_tail(path: Path, fd: int, start: int, end: int) -> int:
    """Puts bytes [start, end) of `fd` (the locked, open `path`) into a fresh file that takes
    `path`'s place; returns its O_APPEND descriptor, locked, and closes `fd`."""
    # A dot name: never matched by PATTERN, so no other process claims or adopts it.
    temporary = path.with_name(f".{path.name}.tmp")
    new = os.open(temporary, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        # Only this process knows the name: the lock is ours at once (and must be, before the
        # rename makes the file visible to claim()).
        fcntl.flock(new, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _copy(fd, end - start, new, start)
        os.replace(temporary, path)
    except BaseException:
        os.close(new)
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    # Whoever opened the old file meanwhile fails the inode check in _lock().
    os.close(fd)
    return new


def _copy(source: int, length: int, target: int, start: int = 0) -> None:
    position = start
    remaining = length
    while remaining:
        chunk = os.pread(source, min(_READ_CHUNK, remaining), position)
        if not chunk:
            raise OSError(f"journal shorter than expected at byte {position}")
        remaining -= len(chunk)
        position += len(chunk)
        view = memoryview(chunk)
        while view:
            view = view[os.write(target, view) :]


def _lock(fd: int, path: Path) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    # The file may have been adopted and deleted between our open and our lock.
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
