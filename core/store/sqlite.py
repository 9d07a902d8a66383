"""The embedded store: one SQLite file (WAL mode), the default when no MongoDB is configured.

sqlite3 blocks, so calls run on dedicated worker threads, each owning one connection (a
"lane"): the event loop never waits on disk, and the calls of a lane are serialised in order
without locks. In WAL mode readers never wait for writers, so the lanes are:

- reads (API keys, log queries): never queued behind a write, even one stuck on a lock;
- log writes (inserts, retention): a short busy timeout, as a failed insert is journalled
  and retried by the log pipeline rather than waited for;
- key writes (create, revoke, last use): the usual busy timeout;
- checkpoints: copying the WAL into the database file (and its fsyncs) runs beside the
  log writer instead of inside one of its inserts.

Query semantics are listed in sqlite_query.py and shared with the MongoDB store.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from core.background import yield_to_requests
from core.store import sqlite_query as q, sqlite_rollups as rollup_sql
from core.store.base import (
    ApiKeyRecord,
    LogPage,
    LogQuery,
    LogRecord,
    LogScope,
    MetricsReader,
    RollupRow,
    StoredResponseRecord,
    id_prefix_bounds,
)
from core.store.sqlite_schema import (
    ADD_COUNT,
    DROP_EMPTY_COUNT,
    KEY_COLUMNS,
    LOG_COLUMNS,
    PRAGMAS,
    count_buckets,
    key_record,
    key_row,
    log_record,
    log_row,
    migrate,
    minute_counts_sql,
)
from core.store.sqlite_transaction import transaction

if TYPE_CHECKING:
    from core.usage.accumulate import Bucket, Classify, Grouped
    from core.usage.rollup import Rollups

log = logging.getLogger(__name__)

T = TypeVar("T")

# Busy timeouts (ms). A log insert that cannot get the write lock soon fails: the pipeline
# journals the batch and retries later, and meanwhile this lane is free again.
READ_BUSY_MS = 5000
KEY_WRITE_BUSY_MS = 5000
LOG_WRITE_BUSY_MS = 200
LOG_WRITER_CACHE_KIB = 16384
"""The log writer's page cache. Inserts touch the newest index pages only: 16 MiB wrote as
many records/s as 64 MiB in bench-logs (25.5-26.0k vs 25.7-26.2k with rollups), and the
gateway's RSS no longer climbs toward +64 MiB as the database grows."""
# The log writer has the background checkpointer copy the WAL into the database after about
# this many bytes of records. Its own automatic checkpoint (every ~40 MB of WAL) stays as a
# bound: it then only copies what the background one has not, and lets the WAL restart.
CHECKPOINT_EVERY_BYTES = 2 << 20
WAL_AUTOCHECKPOINT_PAGES = 10_000
# Page choice (_page). The planner's plan fetches every match (from the most selective
# index) then sorts them: ~3 µs a match. A walk of the created_at index tests records in
# order and stops once the page is full: ~1.5 µs a record tested, and with matches spread
# evenly it tests offset+limit times (records in range / matches) records. So: up to
# DRIVE_MAX matches, or when the walk would test more than WALK_PER_MATCH records per match,
# the planner's plan; else a walk over at most WALK_SLACK times the records it should need,
# then the planner's plan if they did not hold the page (matches not spread evenly).
DRIVE_MAX = 64
WALK_PER_MATCH = 2
WALK_SLACK = 4

_INSERT_LOG = f"INSERT OR IGNORE INTO logs ({LOG_COLUMNS}) VALUES ({', '.join('?' * 25)})"
# SQLite gives a new row the largest pk + 1, so the rows a batch really added (not ignored as
# replays) are those above the largest pk before it. Their side rows are built from their
# own JSON inside SQLite (no per-row binding from Python), their counts from one GROUP BY.
# NOT INDEXED: read the new rows by pk, never a whole index (the planner may think that
# `pk > ?` leaves many rows).
_NEW_ROWS = "SELECT subject, created_at FROM logs NOT INDEXED WHERE pk > ?"
_INSERT_METADATA = (
    "INSERT OR IGNORE INTO log_metadata (key, value, created_at, log_id) "
    "SELECT j.key, j.value, l.created_at, l.pk FROM logs l NOT INDEXED, json_each(l.metadata) j "
    "WHERE l.pk > ?"
)
_INSERT_TEAMS = (
    "INSERT OR IGNORE INTO log_teams (team, created_at, log_id) "
    "SELECT j.value, l.created_at, l.pk FROM logs l NOT INDEXED, json_each(l.teams) j "
    "WHERE l.pk > ?"
)
_COUNT_NEW = minute_counts_sql(_NEW_ROWS)
# What a metrics scan reads: every column but the bodies and the attempts.
_SCAN_COLUMNS = LOG_COLUMNS.replace("attempts, request_body, response_body", "'[]', NULL, NULL")
_INSERT_KEY = f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ({', '.join('?' * 11)})"
_UPDATE_KEY = (
    "UPDATE api_keys SET digest = ?, prefix = ?, subject = ?, created_at = ?, teams = ?, "
    "admin_teams = ?, models = ?, expires_at = ?, last_used_at = ?, revoked_at = ? WHERE id = ?"
)
# The oldest rows first, so a bounded delete always removes the oldest `batch_size`.
_DOOMED = "SELECT pk FROM logs WHERE created_at < ? ORDER BY created_at, pk LIMIT ?"
_COUNT_DOOMED = minute_counts_sql(f"SELECT subject, created_at FROM logs WHERE pk IN ({_DOOMED})")
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


def _connect(
    path: Path, *, busy_ms: int, cache_kib: int, autocheckpoint: int = 0, setup: bool = False
) -> sqlite3.Connection:
    # isolation_level=None: transactions are explicit (BEGIN ... COMMIT) below.
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
        for pragma in PRAGMAS:
            conn.execute(pragma)
        conn.execute(f"PRAGMA cache_size = {-int(cache_kib)}")
        conn.execute(f"PRAGMA wal_autocheckpoint = {int(autocheckpoint)}")
        conn.create_function("gw_icontains", 2, _icontains, deterministic=True)
        rollup_sql.install_functions(conn)
        if setup:
            migrate(conn)
            # Lets the planner weigh indexes (e.g. a rare metadata value against a time range).
            conn.execute("PRAGMA optimize = 0x10002")
    except BaseException:
        conn.close()
        raise
    return conn


class _Lane:
    """One worker thread and the connection it alone uses; a `background` lane's thread
    yields the CPU to the request path (core/background.py)."""

    def __init__(self, name: str, *, background: bool = False) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix=name,
            initializer=yield_to_requests if background else None,
        )
        self._conn: sqlite3.Connection | None = None

    async def open(self, connect: Callable[[], sqlite3.Connection]) -> None:
        loop = asyncio.get_running_loop()
        self._conn = await loop.run_in_executor(self._executor, connect)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        conn = self._conn
        if conn is None:
            raise RuntimeError("SqliteStore is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, conn, *args))

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> Future[T] | None:
        """Queues `fn` from any thread, without waiting for it; None when closed."""
        conn = self._conn
        return None if conn is None else self._executor.submit(fn, conn)

    async def close(self, finish: Callable[[sqlite3.Connection], None] | None = None) -> None:
        try:
            if self._conn is not None:
                await self.run(_finish_and_close, finish)
        finally:
            self._conn = None
            # The close job has run: the thread is idle and exits without blocking the loop.
            self._executor.shutdown(wait=False)


def _finish_and_close(
    conn: sqlite3.Connection, finish: Callable[[sqlite3.Connection], None] | None
) -> None:
    try:
        if finish is not None:
            finish(conn)
    finally:
        conn.close()


def _optimize(conn: sqlite3.Connection) -> None:
    # Run on the connection that ran the queries: it knows which tables they used.
    conn.execute("PRAGMA optimize")


def _checkpoint(conn: sqlite3.Connection) -> None:
    try:
        # PASSIVE: copies what it can without waiting for, or blocking, readers and writers.
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error as exc:  # the next one, or the writer's own, catches up
        log.warning("sqlite: background checkpoint failed: %s", exc)


class _LogWriter:
    """The log-write lane's state: what its connection wrote since the last checkpoint."""

    def __init__(
        self, checkpoints: _Lane, rollups: Rollups | None, now_ms: Callable[[], int]
    ) -> None:
        self._checkpoints = checkpoints
        self._rollups = rollups
        self._now_ms = now_ms
        self.folded_until = 0  # the rollups' fold mark, as this lane last saw it
        self._pending: Future[None] | None = None
        self._written = 0

    def wrote(self, approx_bytes: int) -> None:
        """Runs on the log-write thread after a commit: starts a background checkpoint once
        enough was written, unless one is still running."""
        self._written += approx_bytes
        if self._written < CHECKPOINT_EVERY_BYTES:
            return
        if self._pending is not None and not self._pending.done():
            return
        self._written = 0
        self._pending = self._checkpoints.submit(_checkpoint)

    def insert(self, conn: sqlite3.Connection, records: Sequence[LogRecord]) -> None:
        rows = [log_row(r) for r in records]
        with transaction(conn):
            before = conn.execute("SELECT coalesce(max(pk), 0) FROM logs").fetchone()[0]
            inserted = conn.executemany(_INSERT_LOG, rows).rowcount
            if any(r.metadata for r in records):
                conn.execute(_INSERT_METADATA, (before,))
            if any(r.teams for r in records):
                conn.execute(_INSERT_TEAMS, (before,))
            conn.executemany(ADD_COUNT, count_buckets(conn.execute(_COUNT_NEW, (before,))))
            if self._rollups is not None and inserted:
                new = records if inserted == len(records) else _new_records(conn, records, before)
                rollup_sql.add_records(conn, self._rollups, list(new), self._now_ms())
        if self._rollups is not None:
            self.fold_if_due(conn)
        # Bodies are most of a record; the rest (columns, index entries) is about 1 KiB.
        self.wrote(sum(len(row[21] or "") + len(row[22] or "") + 1024 for row in rows))

    def fold_if_due(self, conn: sqlite3.Connection) -> None:
        """Folds the rollups' finished hours, when one is due (after an insert, on this lane)."""
        now = self._now_ms()
        if self._rollups is not None and rollup_sql.fold_due(self.folded_until, now):
            try:
                self.folded_until = rollup_sql.fold(conn, now)
            except sqlite3.Error as exc:  # the records are stored: the next insert folds
                log.warning("sqlite: folding rollups failed, trying again later: %s", exc)

    def delete_rollups_before(self, conn: sqlite3.Connection, cutoff: int) -> None:
        with transaction(conn):
            rollup_sql.delete_before(conn, cutoff)

    def delete_before(self, conn: sqlite3.Connection, created_before: int, batch_size: int) -> int:
        # Within one write transaction _DOOMED selects the same rows each time, so the side
        # tables and counts lose exactly the rows of the records deleted; the only list in
        # Python is that of the (at most 4 * batch_size) count buckets concerned.
        args = (created_before, batch_size)
        with transaction(conn):
            minutes = conn.execute(_COUNT_DOOMED, args).fetchall()
            buckets = count_buckets((subject, minute, -n) for subject, minute, n in minutes)
            conn.executemany(ADD_COUNT, buckets)
            conn.executemany(DROP_EMPTY_COUNT, [bucket for *bucket, _ in buckets])
            conn.execute(_DELETE_METADATA, args)
            conn.execute(_DELETE_TEAMS, args)
            deleted: int = conn.execute(f"DELETE FROM logs WHERE pk IN ({_DOOMED})", args).rowcount
        self.wrote(deleted * 1024)
        return deleted

    def close(self, conn: sqlite3.Connection) -> None:
        if self._pending is not None:
            self._pending.result()


def _filtered(query: LogQuery) -> bool:
    """Whether the query limits more than the created_at range."""
    return query.scope is not None or any(f.field != "created_at" for f in query.filters)


def _walk_span(reach: int, in_range: int, total: int) -> int | None:
    """How many records of the queried range a walk may test to fill a page reaching up to
    match `reach` (offset + limit), `total` of the `in_range` records matching; None when
    the planner's plan should be cheaper."""
    expected = -(-reach * in_range // total)  # with the matches spread evenly
    return None if expected > WALK_PER_MATCH * total else WALK_SLACK * expected


def _page(conn: sqlite3.Connection, query: LogQuery, total: int) -> list[tuple[Any, ...]]:
    """The page's rows, by walking the created_at index when that should find them faster
    than the planner's plan (which starts from the most selective index), else by the latter."""
    wanted = min(query.limit, total - query.offset)
    if wanted <= 0:
        return []
    if total > DRIVE_MAX and q.walk_direction(query) is not None:
        in_range = _count(conn, q.total_sql(q.walk_range(query))) if _filtered(query) else total
        span = _walk_span(query.offset + query.limit, in_range, total)
        if span is not None:
            cut = None
            if span < in_range:
                sql, params = q.cutoff_sql(query)
                cut = conn.execute(sql, [*params, span - 1]).fetchone()
            sql, params = q.page_sql(query, walk=True, cutoff=None if cut is None else cut[0])
            rows = conn.execute(sql, params).fetchall()
            # Without a cutoff the walk covered the whole range: the page is complete.
            if cut is None or len(rows) == wanted:
                return rows
    sql, params = q.page_sql(query)
    return conn.execute(sql, params).fetchall()


def _count(conn: sqlite3.Connection, sql_params: tuple[str, list[Any]]) -> int:
    found: int = conn.execute(*sql_params).fetchone()[0]
    return found


def _total(conn: sqlite3.Connection, query: LogQuery) -> int:
    split = q.scope_split(query)
    if split is None or query.scope is None:
        return _count(conn, q.total_sql(query))
    # Visible by subject, or by team: the two counts less the records counted twice.
    subjects, teams = split
    by_team = _count(conn, q.total_sql(teams))
    if not query.scope.subjects:
        return by_team
    by_subject = _count(conn, q.total_sql(subjects))
    both = _count(conn, q.both_sql(query, by_subject=by_subject <= by_team))
    return by_subject + by_team - both


def _query_logs(conn: sqlite3.Connection, query: LogQuery) -> LogPage:
    # One read transaction: the page and the total come from the same snapshot.
    with transaction(conn, "BEGIN"):
        total = _total(conn, query)
        rows = _page(conn, query, total)
    return LogPage(records=[log_record(row) for row in rows], total=total)


def _scan_logs(conn: sqlite3.Connection, query: LogQuery) -> list[LogRecord]:
    where, params = q.where_sql(query)
    return [
        log_record(row) for row in conn.execute(f"SELECT {_SCAN_COLUMNS} FROM logs{where}", params)
    ]


def _new_records(
    conn: sqlite3.Connection, records: Sequence[LogRecord], before: int
) -> list[LogRecord]:
    """The records of a batch that were inserted (rows above `before`), not replays."""
    ids = {
        row[0] for row in conn.execute("SELECT id FROM logs NOT INDEXED WHERE pk > ?", (before,))
    }
    new = []
    for record in records:  # an id twice in one batch: only the first was stored
        if record.id in ids:
            ids.discard(record.id)
            new.append(record)
    return new


def _register_sets(conn: sqlite3.Connection, set_ids: list[str], now_ms: int) -> dict[str, int]:
    with transaction(conn):
        return rollup_sql.register(conn, set_ids, now_ms)


def _get_log(conn: sqlite3.Connection, log_id: str, scope: LogScope | None) -> LogRecord | None:
    params: list[Any] = [log_id]
    scope_sql = "" if scope is None else " AND " + q.scope_sql(scope, params)
    sql = f"SELECT {LOG_COLUMNS} FROM logs WHERE id = ?{scope_sql}"
    found = conn.execute(sql, params).fetchall()
    return log_record(found[0]) if found else None


def _newest_log_with_id_prefix(
    conn: sqlite3.Connection, prefix: str, scope: LogScope | None
) -> LogRecord | None:
    params: list[Any] = list(id_prefix_bounds(prefix))
    scope_sql = "" if scope is None else " AND " + q.scope_sql(scope, params)
    sql = (
        f"SELECT {LOG_COLUMNS} FROM logs WHERE id >= ? AND id < ?{scope_sql} "
        "ORDER BY created_at DESC, id DESC LIMIT 1"
    )
    found = conn.execute(sql, params).fetchall()
    return log_record(found[0]) if found else None


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
    found = conn.execute(sql, (value,)).fetchall()
    return key_record(found[0]) if found else None


def _insert_key(conn: sqlite3.Connection, key: ApiKeyRecord) -> None:
    conn.execute(_INSERT_KEY, key_row(key))


def _update_key(conn: sqlite3.Connection, key: ApiKeyRecord) -> None:
    id_, *rest = key_row(key)
    conn.execute(_UPDATE_KEY, (*rest, id_))


def _touch_keys(conn: sqlite3.Connection, last_used: Mapping[str, int]) -> None:
    with transaction(conn):
        conn.executemany(
            "UPDATE api_keys SET last_used_at = ? WHERE id = ?",
            [(at, key_id) for key_id, at in last_used.items()],
        )


def _insert_response(conn: sqlite3.Connection, response: StoredResponseRecord) -> bool:
    cursor = conn.execute(
        "INSERT OR IGNORE INTO responses (id, key_id, created_at, body) VALUES (?, ?, ?, ?)",
        (response.id, response.key_id, response.created_at, response.body),
    )
    return cursor.rowcount == 1


def _get_response(conn: sqlite3.Connection, response_id: str) -> StoredResponseRecord | None:
    row = conn.execute(
        "SELECT id, key_id, created_at, body FROM responses WHERE id = ?", (response_id,)
    ).fetchone()
    return None if row is None else StoredResponseRecord(row[0], row[1], row[2], bytes(row[3]))


def _delete_response(conn: sqlite3.Connection, response_id: str) -> bool:
    return conn.execute("DELETE FROM responses WHERE id = ?", (response_id,)).rowcount == 1


def _delete_responses_before(conn: sqlite3.Connection, created_before: int, limit: int) -> int:
    cursor = conn.execute(
        "DELETE FROM responses WHERE id IN (SELECT id FROM responses WHERE created_at < ? "
        "ORDER BY created_at LIMIT ?)",
        (created_before, limit),
    )
    return cursor.rowcount


class _Lanes:
    def __init__(self, rollups: Rollups | None, now_ms: Callable[[], int]) -> None:
        self.keys = _Lane("sqlite-keys")
        self.reads = _Lane("sqlite-reads")
        # Metrics queries read many rows: on lanes of their own, so that they never hold up
        # a key lookup, and two of them so that the parts of one query run side by side.
        self.metrics = (_Lane("sqlite-metrics"), _Lane("sqlite-metrics"))
        self._free: asyncio.Queue[_Lane] | None = None
        # Nobody waits for these two: records are journaled before their calls are answered.
        self.logs = _Lane("sqlite-logs", background=True)
        self.checkpoints = _Lane("sqlite-checkpoint", background=True)
        self.writer = _LogWriter(self.checkpoints, rollups, now_ms)

    async def open(self, path: Path) -> None:
        connect = functools.partial(_connect, path)
        # The key lane opens first and brings the schema up to date (its busy timeout is the
        # long one, should another process hold the file at start-up).
        await self.keys.open(
            functools.partial(
                connect,
                busy_ms=KEY_WRITE_BUSY_MS,
                cache_kib=2048,
                autocheckpoint=WAL_AUTOCHECKPOINT_PAGES,
                setup=True,
            )
        )
        await self.reads.open(functools.partial(connect, busy_ms=READ_BUSY_MS, cache_kib=65536))
        for lane in self.metrics:
            await lane.open(functools.partial(connect, busy_ms=READ_BUSY_MS, cache_kib=65536))
        await self.logs.open(
            functools.partial(
                connect,
                busy_ms=LOG_WRITE_BUSY_MS,
                cache_kib=LOG_WRITER_CACHE_KIB,
                autocheckpoint=WAL_AUTOCHECKPOINT_PAGES,
            )
        )
        await self.checkpoints.open(functools.partial(connect, busy_ms=0, cache_kib=2048))

    @asynccontextmanager
    async def metrics_lease(self) -> AsyncIterator[_Lane]:
        """A metrics lane to itself for the block (a lane's calls share its connection)."""
        if self._free is None:
            self._free = asyncio.Queue()
            for lane in self.metrics:
                self._free.put_nowait(lane)
        lane = await self._free.get()
        try:
            yield lane
        finally:
            self._free.put_nowait(lane)

    async def close(self) -> None:
        # The log writer waits for its last checkpoint before the checkpointer closes.
        closing = (
            (self.logs, self.writer.close),
            (self.checkpoints, None),
            (self.keys, None),
            (self.reads, _optimize),
            *((lane, None) for lane in self.metrics),
        )
        errors: list[BaseException] = []
        for lane, finish in closing:
            try:
                await lane.close(finish)
            except Exception as exc:  # close every lane; report the first failure
                errors.append(exc)
        if errors:
            raise errors[0]


class SqliteStore:
    """`Store` over one SQLite file; `open()` creates it and its schema if needed."""

    def __init__(
        self,
        path: Path,
        rollups: Rollups | None = None,
        *,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._path = path
        self._rollups = rollups
        self._now_ms = now_ms  # when rollup hours are over (tests move it)
        self._since: dict[str, int] = {}
        self._lanes: _Lanes | None = None

    def _open_lanes(self) -> _Lanes:
        if self._lanes is None:
            raise RuntimeError("SqliteStore is not open")
        return self._lanes

    async def open(self) -> None:
        if self._lanes is not None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        lanes = _Lanes(self._rollups, self._now_ms)
        try:
            await lanes.open(self._path)
            if self._rollups is not None:
                set_ids = [s.id for s in self._rollups.sets]
                self._since = await lanes.keys.run(_register_sets, set_ids, self._now_ms())
                await lanes.logs.run(lanes.writer.fold_if_due)
        except BaseException:
            with contextlib.suppress(Exception):  # the failure to open is the one to report
                await lanes.close()
            raise
        self._lanes = lanes

    async def close(self) -> None:
        lanes, self._lanes = self._lanes, None
        if lanes is not None:
            await lanes.close()

    # --- API keys
    async def insert_key(self, key: ApiKeyRecord) -> None:
        await self._open_lanes().keys.run(_insert_key, key)

    async def find_key_by_digest(self, digest: str) -> ApiKeyRecord | None:
        return await self._open_lanes().reads.run(_find_key, "digest", digest)

    async def get_key(self, key_id: str) -> ApiKeyRecord | None:
        return await self._open_lanes().reads.run(_find_key, "id", key_id)

    async def list_keys(
        self, *, subject: str | None = None, include_revoked: bool = False
    ) -> list[ApiKeyRecord]:
        return await self._open_lanes().reads.run(_list_keys, subject, include_revoked)

    async def update_key(self, key: ApiKeyRecord) -> None:
        await self._open_lanes().keys.run(_update_key, key)

    async def touch_keys(self, last_used: Mapping[str, int]) -> None:
        if last_used:
            await self._open_lanes().keys.run(_touch_keys, dict(last_used))

    # --- stored responses: written on the key lane (a caller waits), read on the read lane
    async def insert_response(self, response: StoredResponseRecord) -> bool:
        return await self._open_lanes().keys.run(_insert_response, response)

    async def get_response(self, response_id: str) -> StoredResponseRecord | None:
        return await self._open_lanes().reads.run(_get_response, response_id)

    async def delete_response(self, response_id: str) -> bool:
        return await self._open_lanes().keys.run(_delete_response, response_id)

    async def delete_responses_before(self, created_before: int, *, batch_size: int) -> int:
        if batch_size <= 0:
            return 0
        # Nobody waits for retention: on the background log lane, like old records.
        lanes = self._open_lanes()
        return await lanes.logs.run(_delete_responses_before, created_before, batch_size)

    # --- request logs
    async def insert_logs(self, records: Sequence[LogRecord]) -> None:
        if records:
            lanes = self._open_lanes()
            await lanes.logs.run(lanes.writer.insert, list(records))

    async def query_logs(self, query: LogQuery) -> LogPage:
        return await self._open_lanes().reads.run(_query_logs, query)

    async def get_log(self, log_id: str, scope: LogScope | None = None) -> LogRecord | None:
        return await self._open_lanes().reads.run(_get_log, log_id, scope)

    async def newest_log_with_id_prefix(
        self, prefix: str, scope: LogScope | None = None
    ) -> LogRecord | None:
        return await self._open_lanes().reads.run(_newest_log_with_id_prefix, prefix, scope)

    async def delete_logs_before(self, created_before: int, *, batch_size: int) -> int:
        if batch_size <= 0:
            return 0
        lanes = self._open_lanes()
        deleted = await lanes.logs.run(lanes.writer.delete_before, created_before, batch_size)
        if deleted < batch_size:  # the last round: no record older than the cutoff is left
            await lanes.logs.run(lanes.writer.delete_rollups_before, created_before)
        return deleted

    # --- metrics reads: on a metrics lane, in one snapshot
    @asynccontextmanager
    async def metrics_snapshot(self) -> AsyncIterator[MetricsReader]:
        """One metrics lane for the block, its reads in one read transaction: one snapshot
        of records and rollups, whatever the log writer commits meanwhile."""
        async with self._open_lanes().metrics_lease() as lane:
            await lane.run(_begin_snapshot)
            try:
                yield _MetricsView(lane, self._since)
            finally:
                await lane.run(_end_snapshot)


class _MetricsView:
    """The metrics reads (core.store.base.MetricsReader) on one lane's connection."""

    def __init__(self, lane: _Lane, since: Mapping[str, int]) -> None:
        self._lane = lane
        self._since = since

    async def scan_logs(self, query: LogQuery) -> list[LogRecord]:
        return await self._lane.run(_scan_logs, query)

    async def rollup_since(self) -> Mapping[str, int]:
        return self._since

    async def rollups_folded_until(self) -> int:
        return await self._lane.run(rollup_sql.read_folded_until)

    async def read_rollups(self, set_id: str, span: int, start: int, end: int) -> list[RollupRow]:
        return await self._lane.run(rollup_sql.read, set_id, span, start, end)

    async def count_rollups(
        self, set_id: str, pieces: Sequence[tuple[int, int, int]]
    ) -> dict[str, int]:
        return await self._lane.run(rollup_sql.count, set_id, pieces)

    async def aggregate_rollups(
        self,
        set_id: str,
        pieces: Sequence[tuple[int, int, int]],
        classify: Classify,
        bucket: Bucket,
        *,
        histograms: bool = True,
        dimensions: Collection[str] | None = None,
    ) -> Grouped:
        return await self._lane.run(
            rollup_sql.aggregate, set_id, pieces, classify, bucket, histograms, dimensions
        )


def _begin_snapshot(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN")
    # A read transaction's snapshot starts at its first read: take it now.
    conn.execute("SELECT count(*) FROM rollup_state").fetchone()


def _end_snapshot(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("COMMIT")
