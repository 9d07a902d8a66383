"""The embedded store: one SQLite file (WAL mode), the default when no MongoDB is configured.

sqlite3 blocks, so every call runs on ONE dedicated worker thread that owns the only
connection: the event loop never waits on disk, and calls are serialised in order without
locks. Query semantics are listed in sqlite_query.py and shared with the MongoDB store.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from core.store import sqlite_query as q
from core.store.base import ApiKeyRecord, LogPage, LogQuery, LogRecord, LogScope
from core.store.sqlite_schema import (
    KEY_COLUMNS,
    LOG_COLUMNS,
    PRAGMAS,
    key_record,
    key_row,
    log_record,
    log_row,
    migrate,
)

T = TypeVar("T")

_INSERT_LOG = f"INSERT OR IGNORE INTO logs ({LOG_COLUMNS}) VALUES ({', '.join('?' * 23)})"
# SQLite gives a new row the largest pk + 1, so the rows a batch really added (not ignored as
# replays) are those above the largest pk before it. Their side rows are built from their
# own JSON inside SQLite: no per-row binding from Python.
_INSERT_METADATA = (
    "INSERT OR IGNORE INTO log_metadata (key, value, created_at, log_id) "
    "SELECT j.key, j.value, l.created_at, l.pk FROM logs l, json_each(l.metadata) j "
    "WHERE l.pk > ?"
)
_INSERT_TEAMS = (
    "INSERT OR IGNORE INTO log_teams (team, created_at, log_id) "
    "SELECT j.value, l.created_at, l.pk FROM logs l, json_each(l.teams) j WHERE l.pk > ?"
)
_INSERT_KEY = f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ({', '.join('?' * 11)})"
_UPDATE_KEY = (
    "UPDATE api_keys SET digest = ?, prefix = ?, subject = ?, created_at = ?, teams = ?, "
    "admin_teams = ?, models = ?, expires_at = ?, last_used_at = ?, revoked_at = ? WHERE id = ?"
)
# The oldest rows first, so a bounded delete always removes the oldest `batch_size`.
_DOOMED = "SELECT pk FROM logs WHERE created_at < ? ORDER BY created_at, pk LIMIT ?"
# Side rows are found by their whole primary key, rebuilt from the doomed records' JSON.
_DELETE_METADATA = (
    "DELETE FROM log_metadata WHERE (key, value, created_at, log_id) IN "
    "(SELECT j.key, j.value, l.created_at, l.pk FROM logs l, json_each(l.metadata) j "
    f"WHERE l.pk IN ({_DOOMED}))"
)
_DELETE_TEAMS = (
    "DELETE FROM log_teams WHERE (team, created_at, log_id) IN "
    "(SELECT j.value, l.created_at, l.pk FROM logs l, json_each(l.teams) j "
    f"WHERE l.pk IN ({_DOOMED}))"
)


def _icontains(haystack: str | None, needle: str) -> bool:
    return haystack is not None and needle.lower() in haystack.lower()


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: transactions are explicit (BEGIN ... COMMIT) below.
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    conn.create_function("gw_icontains", 2, _icontains, deterministic=True)
    migrate(conn)
    # Lets the planner weigh indexes (e.g. a rare metadata value against a time range).
    conn.execute("PRAGMA optimize = 0x10002")
    return conn


@contextmanager
def _transaction(conn: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE") -> Iterator[None]:
    conn.execute(begin)
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _close(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA optimize")
    conn.close()


def _insert_logs(conn: sqlite3.Connection, records: Sequence[LogRecord]) -> None:
    rows = [log_row(r) for r in records]
    with _transaction(conn):
        before = conn.execute("SELECT coalesce(max(pk), 0) FROM logs").fetchone()[0]
        conn.executemany(_INSERT_LOG, rows)
        conn.execute(_INSERT_METADATA, (before,))
        conn.execute(_INSERT_TEAMS, (before,))


def _query_logs(conn: sqlite3.Connection, query: LogQuery) -> LogPage:
    where, params = q.where_sql(query)
    order, order_params = q.order_sql(query.sort)
    # The page's pks are picked first, so a sort over many matches moves narrow rows, not
    # whole records with their bodies; only the page's records are then read.
    page_sql = (
        f"SELECT {LOG_COLUMNS} FROM logs WHERE pk IN "
        f"(SELECT pk FROM logs{where}{order} LIMIT ? OFFSET ?){order}"
    )
    page_params = [*params, *order_params, query.limit, query.offset, *order_params]
    # One read transaction: the page and the total come from the same snapshot.
    with _transaction(conn, "BEGIN"):
        total = conn.execute(f"SELECT count(*) FROM logs{where}", params).fetchone()[0]
        records = [log_record(row) for row in conn.execute(page_sql, page_params)]
    return LogPage(records=records, total=total)


def _get_log(conn: sqlite3.Connection, log_id: str, scope: LogScope | None) -> LogRecord | None:
    params: list[Any] = [log_id]
    scope_sql = "" if scope is None else " AND " + q.scope_sql(scope, params)
    row = conn.execute(f"SELECT {LOG_COLUMNS} FROM logs WHERE id = ?{scope_sql}", params)
    found = row.fetchone()
    return None if found is None else log_record(found)


def _delete_logs_before(conn: sqlite3.Connection, created_before: int, batch_size: int) -> int:
    # Within one write transaction _DOOMED selects the same rows each time, so the side
    # tables lose exactly the rows of the records deleted; nothing is loaded into Python.
    args = (created_before, batch_size)
    with _transaction(conn):
        conn.execute(_DELETE_METADATA, args)
        conn.execute(_DELETE_TEAMS, args)
        return conn.execute(f"DELETE FROM logs WHERE pk IN ({_DOOMED})", args).rowcount


def _list_keys(
    conn: sqlite3.Connection, subject: str | None, include_revoked: bool
) -> list[ApiKeyRecord]:
    conditions, params = [], []
    if subject is not None:
        conditions.append("subject = ?")
        params.append(subject)
    if not include_revoked:
        conditions.append("revoked_at IS NULL")
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    sql = f"SELECT {KEY_COLUMNS} FROM api_keys{where} ORDER BY created_at DESC, id DESC"
    return [key_record(row) for row in conn.execute(sql, params)]


def _find_key(conn: sqlite3.Connection, column: str, value: str) -> ApiKeyRecord | None:
    sql = f"SELECT {KEY_COLUMNS} FROM api_keys WHERE {column} = ?"
    row = conn.execute(sql, (value,)).fetchone()
    return None if row is None else key_record(row)


def _update_key(conn: sqlite3.Connection, key: ApiKeyRecord) -> None:
    id_, *rest = key_row(key)
    conn.execute(_UPDATE_KEY, (*rest, id_))


def _touch_keys(conn: sqlite3.Connection, last_used: Mapping[str, int]) -> None:
    with _transaction(conn):
        conn.executemany(
            "UPDATE api_keys SET last_used_at = ? WHERE id = ?",
            [(at, key_id) for key_id, at in last_used.items()],
        )


class SqliteStore:
    """`Store` over one SQLite file; `open()` creates it and its schema if needed."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None or self._conn is None:
            raise RuntimeError("SqliteStore is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, self._conn, *args))

    async def open(self) -> None:
        if self._executor is not None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        loop = asyncio.get_running_loop()
        try:
            self._conn = await loop.run_in_executor(executor, _connect, self._path)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        self._executor = executor

    async def close(self) -> None:
        executor = self._executor
        if executor is None:
            return
        try:
            await self._run(_close)
        finally:
            self._conn = None
            self._executor = None
            # The close job has run: the thread is idle and exits without blocking the loop.
            executor.shutdown(wait=False)

    # --- API keys
    async def insert_key(self, key: ApiKeyRecord) -> None:
        await self._run(lambda c: c.execute(_INSERT_KEY, key_row(key)))

    async def find_key_by_digest(self, digest: str) -> ApiKeyRecord | None:
        return await self._run(_find_key, "digest", digest)

    async def get_key(self, key_id: str) -> ApiKeyRecord | None:
        return await self._run(_find_key, "id", key_id)

    async def list_keys(
        self, *, subject: str | None = None, include_revoked: bool = False
    ) -> list[ApiKeyRecord]:
        return await self._run(_list_keys, subject, include_revoked)

    async def update_key(self, key: ApiKeyRecord) -> None:
        await self._run(_update_key, key)

    async def touch_keys(self, last_used: Mapping[str, int]) -> None:
        if last_used:
            await self._run(_touch_keys, dict(last_used))

    # --- request logs
    async def insert_logs(self, records: Sequence[LogRecord]) -> None:
        if records:
            await self._run(_insert_logs, list(records))

    async def query_logs(self, query: LogQuery) -> LogPage:
        return await self._run(_query_logs, query)

    async def get_log(self, log_id: str, scope: LogScope | None = None) -> LogRecord | None:
        return await self._run(_get_log, log_id, scope)

    async def delete_logs_before(self, created_before: int, *, batch_size: int) -> int:
        if batch_size <= 0:
            return 0
        return await self._run(_delete_logs_before, created_before, batch_size)
