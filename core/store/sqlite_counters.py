"""Window counters in their own SQLite file: exact for every process that opens that file.

The file (e.g. `<data_dir>/limits.db`) is not the store's: an admission then never waits
for the write lock behind a big batch of log records. Each `charge` is one `BEGIN
IMMEDIATE` transaction, which takes the file's write lock first, so the window sums it
reads cannot change before it writes: it reads each charge's window, adds the charge if it
fits (so a later charge of the same key sees it), and commits, or rolls everything back at
the first charge that does not fit. Calls run in order on one worker thread owning the one
connection (as the store's lanes do), so the event loop never waits on the file.

    window_slots(key, slot, amount, expires_at)  PRIMARY KEY (key, slot), WITHOUT ROWID

A slot counts while `now_ms < expires_at`; dead rows are deleted at most once per
`sweep_every_ms` of the charges' clock. WAL with `synchronous = NORMAL`: a power loss may
forget the last charges (the counts then run low), never corrupt the file. A call cancelled
while its transaction runs still completes it: the charge stays counted.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from core.router.counters import Adjustment, Admitted, Charge, Refused
from core.store.sqlite_transaction import transaction

T = TypeVar("T")

# Other processes hold the write lock for a few statements only; waiting this long means
# something is wrong, and the caller gets `sqlite3.OperationalError: database is locked`.
BUSY_TIMEOUT_MS = 10_000
SWEEP_EVERY_MS = 60_000

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS window_slots ("
    "key TEXT NOT NULL, slot INTEGER NOT NULL, amount INTEGER NOT NULL, "
    "expires_at INTEGER NOT NULL, PRIMARY KEY (key, slot)) WITHOUT ROWID"
)
_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA journal_size_limit = 8388608",
)
# ?1 key, ?2 first slot, ?3 last slot, ?4 now.
_WINDOW = (
    "SELECT coalesce(sum(amount), 0), min(CASE WHEN amount > 0 THEN slot END) "
    "FROM window_slots WHERE key = ?1 AND slot BETWEEN ?2 AND ?3 AND expires_at > ?4"
)
# ?1 key, ?2 slot, ?3 delta, ?4 expires_at, ?5 now: a dead slot starts again from 0.
_ADD = (
    "INSERT INTO window_slots (key, slot, amount, expires_at) VALUES (?1, ?2, max(?3, 0), ?4) "
    "ON CONFLICT (key, slot) DO UPDATE SET "
    "amount = max(CASE WHEN expires_at > ?5 THEN amount ELSE 0 END + ?3, 0), "
    "expires_at = CASE WHEN expires_at > ?5 THEN max(expires_at, ?4) ELSE ?4 END"
)
# No index on expires_at: a scan once a minute over the live slots costs less than keeping
# an index up to date on every charge.
_SWEEP = "DELETE FROM window_slots WHERE expires_at <= ?"


class _Refusal(Exception):
    """Rolls the charge's transaction back, carrying the answer out of it."""

    def __init__(self, refused: Refused) -> None:
        self.refused = refused


def _connect(path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        conn.execute(_SCHEMA)
    except BaseException:
        conn.close()
        raise
    return conn


def _charge(
    conn: sqlite3.Connection, charges: Sequence[Charge], now_ms: int, sweep: bool
) -> Admitted | Refused:
    if sweep:
        conn.execute(_SWEEP, (now_ms,))
    used: list[int] = []
    try:
        with transaction(conn):
            for index, c in enumerate(charges):
                total, oldest = conn.execute(
                    _WINDOW, (c.key, c.first_slot, c.slot, now_ms)
                ).fetchone()
                if not (total < c.limit if c.overshoot else total + c.amount <= c.limit):
                    raise _Refusal(Refused(index=index, used=total, oldest_slot=oldest))
                if c.amount:
                    conn.execute(_ADD, (c.key, c.slot, c.amount, c.expires_at_ms, now_ms))
                used.append(total + c.amount)
    except _Refusal as refusal:
        return refusal.refused
    return Admitted(used=tuple(used))


def _settle(conn: sqlite3.Connection, adjustments: Sequence[Adjustment], now_ms: int) -> None:
    rows = [(a.key, a.slot, a.delta, a.expires_at_ms, now_ms) for a in adjustments]
    with transaction(conn):
        conn.executemany(_ADD, rows)


class SqliteCounters:
    """`WindowCounters` in the SQLite file `path`; `open()` creates it if missing."""

    def __init__(
        self,
        path: Path,
        *,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        sweep_every_ms: int = SWEEP_EVERY_MS,
    ) -> None:
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._sweep_every_ms = sweep_every_ms
        self._next_sweep_ms = 0
        # The latest charge clock: what `settle` (which has none) treats as now.
        self._now_ms = 0
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-counters")
        loop = asyncio.get_running_loop()
        connect = functools.partial(_connect, self._path, self._busy_timeout_ms)
        self._conn = await loop.run_in_executor(self._executor, connect)

    async def aclose(self) -> None:
        executor, conn = self._executor, self._conn
        self._executor = self._conn = None
        if executor is None:
            return
        try:
            if conn is not None:
                await asyncio.get_running_loop().run_in_executor(executor, conn.close)
        finally:
            # The close job has run: the idle thread exits without blocking the loop.
            executor.shutdown(wait=False)

    async def charge(self, charges: Sequence[Charge], now_ms: int) -> Admitted | Refused:
        if not charges:
            return Admitted(used=())
        if now_ms > self._now_ms:
            self._now_ms = now_ms
        sweep = now_ms >= self._next_sweep_ms
        if sweep:
            self._next_sweep_ms = now_ms + self._sweep_every_ms
        return await self._run(_charge, charges, now_ms, sweep)

    def settle_nowait(self, adjustments: Sequence[Adjustment]) -> bool:
        return False  # a store round trip: the caller awaits `settle`

    async def settle(self, adjustments: Sequence[Adjustment]) -> None:
        if adjustments:
            await self._run(_settle, adjustments, self._now_ms)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        executor, conn = self._executor, self._conn
        if executor is None or conn is None:
            raise RuntimeError("SqliteCounters is not open")
        call = functools.partial(fn, conn, *args)
        return await asyncio.get_running_loop().run_in_executor(executor, call)
