"""What a running gateway process holds (Linux): memory, open descriptors and its TCP
connections from /proc, and the size of its SQLite store."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

_LISTEN = 0x0A
"""A listening socket's state in /proc/net/tcp."""


def rss_kib(pid: int) -> int:
    """Resident memory now (VmRSS), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS")


def open_fds(pid: int) -> int:
    """File descriptors open now: sockets, files, pipes, epoll and eventfd handles."""
    return len(os.listdir(f"/proc/{pid}/fd"))


@dataclass(frozen=True)
class TcpSocket:
    """One row of /proc/net/tcp or tcp6."""

    local_port: int
    remote_port: int
    state: int
    unsent: int
    """Bytes queued to send: more than 0 when the peer's window is full."""
    inode: str


def tcp_sockets() -> Iterator[TcpSocket]:
    """Every TCP socket of this network namespace."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            yield TcpSocket(
                local_port=int(fields[1].rsplit(":", 1)[1], 16),
                remote_port=int(fields[2].rsplit(":", 1)[1], 16),
                state=int(fields[3], 16),
                unsent=int(fields[4].split(":")[0], 16),
                inode=fields[9],
            )


def tcp_connections(pid: int) -> list[TcpSocket]:
    """The TCP connections (listeners aside) process `pid` holds."""
    inodes = set()
    for name in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(FileNotFoundError):  # closed between listing and reading
            link = os.readlink(f"/proc/{pid}/fd/{name}")
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    return [s for s in tcp_sockets() if s.inode in inodes and s.state != _LISTEN]


def accepted(pid: int, port: int) -> int:
    """Connections process `pid` accepted on its `port` and holds."""
    return sum(1 for s in tcp_connections(pid) if s.local_port == port)


def unsent_bytes(local_port: int, remote_port: int) -> int:
    """Bytes queued to send on the TCP connection from `local_port` to `remote_port`."""
    for found in tcp_sockets():
        if (found.local_port, found.remote_port) == (local_port, remote_port):
            return found.unsent
    raise LookupError(f"no TCP socket from port {local_port} to port {remote_port}")


def sqlite_kib(path: Path) -> int:
    """The logical size of the SQLite database at `path` (committed pages, WAL included)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int(pages * size // 1024)


def settles(read: Callable[[], int], ok: Callable[[int], bool], timeout: float) -> int:
    """Reads another process's figure until `ok` holds or `timeout` passes; returns the last.

    Another OS process gives no event to wait on, so this polls, within a deadline.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if ok(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)
