"""The SQLite schema, its migrations, and the row <-> record conversions.

`logs` has one column per filterable field (`user` is `subject`) plus JSON text for the
nested parts. Metadata and teams are also kept one row per value in side tables keyed by
the integer `logs.pk` and carrying `created_at`. Each side table is a WITHOUT ROWID table
whose primary key is its only index, `(key, value, created_at, log_id)` and
`(team, created_at, log_id)`: a `metadata.<key>` or `team` filter is a range scan of it
over the queried time range, and every side row costs one b-tree insert, not two (the
insert rate is bound by b-tree writes).

`log_counts` holds exact record counts per minute and per hour, for every record and per
subject, kept in the transactions that insert and delete records: the `total` of a query
filtering on nothing but a time range (and the subject) sums a few buckets and counts only
the partial minutes at the edges, instead of counting up to every record.

The resolved model is indexed only where it differs from the requested one (a fallback, or
no provider reached): most records then cost one index entry less (sqlite_query.py states
its filters so that this partial index serves them).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from core.store.base import ApiKeyRecord, Attempt, LogRecord
from core.store.sqlite_rollups import SCHEMA as ROLLUP_SCHEMA
from core.usage.rollup import HOUR_MS, MINUTE_MS

SCHEMA_VERSION = 5

# Widths of the count buckets in `log_counts`, in ms: a bucket's `start` is a multiple of its
# `span`. Dimensions: every record (value ''), and per subject (value = the subject).
EVERY = ""
SUBJECT = "subject"


def _bucket_keys(rows: str) -> str:
    """(dimension, value, span, start) of the buckets counting each row of the CTE `rows`
    (columns subject, created_at): two dimensions times two spans, four per row."""
    start = "r.created_at - (r.created_at % s.span + s.span) % s.span"  # floor, also below 0
    return (
        f"SELECT r.dimension, r.value, s.span, {start} FROM "
        f"(SELECT '{EVERY}' AS dimension, '' AS value, created_at FROM {rows} UNION ALL "
        f"SELECT '{SUBJECT}', subject, created_at FROM {rows}) AS r, "
        f"(SELECT {MINUTE_MS} AS span UNION ALL SELECT {HOUR_MS}) AS s"
    )


def add_counts_sql(rows: str) -> str:
    """Adds the rows selected by `rows` (a SELECT of subject, created_at) to their buckets."""
    return (
        "INSERT INTO log_counts (dimension, value, span, start, n) "
        f"WITH r0 AS ({rows}) SELECT *, count(*) FROM ({_bucket_keys('r0')}) "
        "WHERE 1 GROUP BY 1, 2, 3, 4 "
        "ON CONFLICT (dimension, value, span, start) DO UPDATE SET n = n + excluded.n"
    )


def minute_counts_sql(rows: str) -> str:
    """(subject, minute, count) of the rows selected by `rows` (a SELECT of subject,
    created_at): what count_buckets() turns into bucket increments."""
    minute = f"created_at - (created_at % {MINUTE_MS} + {MINUTE_MS}) % {MINUTE_MS}"
    return f"SELECT subject, {minute}, count(*) FROM ({rows}) GROUP BY 1, 2"


def count_buckets(minute_counts: Iterable[tuple[str, int, int]]) -> list[tuple[Any, ...]]:
    """(dimension, value, span, start, count) of the buckets the (subject, minute, count)
    groups fall in: the same buckets as _bucket_keys."""
    out: dict[tuple[str, str, int, int], int] = defaultdict(int)
    for subject, minute, n in minute_counts:
        hour = minute - minute % HOUR_MS  # the hour of the minute's start is the record's
        out[EVERY, "", MINUTE_MS, minute] += n
        out[EVERY, "", HOUR_MS, hour] += n
        out[SUBJECT, subject, MINUTE_MS, minute] += n
        out[SUBJECT, subject, HOUR_MS, hour] += n
    return [(*bucket, n) for bucket, n in out.items()]


ADD_COUNT = (
    "INSERT INTO log_counts (dimension, value, span, start, n) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (dimension, value, span, start) DO UPDATE SET n = n + excluded.n"
)
DROP_EMPTY_COUNT = (
    "DELETE FROM log_counts WHERE dimension = ? AND value = ? AND span = ? AND start = ? AND n = 0"
)


# Each entry upgrades the schema from version (index) to version (index + 1).
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        digest TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        subject TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        teams TEXT NOT NULL,
        admin_teams TEXT NOT NULL,
        models TEXT NOT NULL,
        expires_at INTEGER,
        last_used_at INTEGER,
        revoked_at INTEGER
    );
    CREATE INDEX api_keys_created ON api_keys (created_at);
    CREATE INDEX api_keys_subject ON api_keys (subject, created_at);
    CREATE TABLE logs (
        pk INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        model TEXT NOT NULL,
        resolved_model TEXT NOT NULL,
        provider_account TEXT NOT NULL,
        subject TEXT NOT NULL,
        key_id TEXT NOT NULL,
        status TEXT NOT NULL,
        http_status INTEGER NOT NULL,
        error_code TEXT NOT NULL,
        error_message TEXT NOT NULL,
        stream INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        total_tokens INTEGER NOT NULL,
        cost REAL NOT NULL,
        latency_ms REAL NOT NULL,
        ttft_ms REAL,
        teams TEXT NOT NULL,
        metadata TEXT NOT NULL,
        attempts TEXT NOT NULL,
        request_body TEXT,
        response_body TEXT
    );
    CREATE INDEX logs_created ON logs (created_at);
    CREATE INDEX logs_subject ON logs (subject, created_at);
    CREATE INDEX logs_model ON logs (model, created_at);
    CREATE INDEX logs_resolved ON logs (resolved_model, created_at);
    CREATE INDEX logs_status ON logs (status, created_at);
    CREATE TABLE log_metadata (
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        log_id INTEGER NOT NULL,
        PRIMARY KEY (key, value, created_at, log_id)
    ) WITHOUT ROWID;
    CREATE TABLE log_teams (
        team TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        log_id INTEGER NOT NULL,
        PRIMARY KEY (team, created_at, log_id)
    ) WITHOUT ROWID;
    """,
    f"""
    CREATE TABLE log_counts (
        dimension TEXT NOT NULL,
        value TEXT NOT NULL,
        span INTEGER NOT NULL,
        start INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (dimension, value, span, start)
    ) WITHOUT ROWID;
    {add_counts_sql("SELECT subject, created_at FROM logs")};
    DROP INDEX logs_resolved;
    CREATE INDEX logs_resolved_differs ON logs (resolved_model, created_at)
        WHERE resolved_model <> model;
    """,
    f"""
    ALTER TABLE logs ADD COLUMN upstream_ms REAL;
    {ROLLUP_SCHEMA}
    """,
    """
    CREATE TABLE responses (
        id TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        body BLOB NOT NULL
    );
    CREATE INDEX responses_created ON responses (created_at);
    """,
    """
    ALTER TABLE logs ADD COLUMN api TEXT NOT NULL DEFAULT '';
    """,
)

# Every connection's; each connection adds its own busy timeout, cache size and checkpointing.
PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    # With WAL, NORMAL loses at most the last transactions on power loss, never corrupts.
    "PRAGMA synchronous = NORMAL",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA journal_size_limit = 67108864",
)

LOG_COLUMNS = (
    "id, created_at, model, resolved_model, provider_account, subject, key_id, status, "
    "http_status, error_code, error_message, stream, input_tokens, output_tokens, "
    "total_tokens, cost, latency_ms, ttft_ms, teams, metadata, attempts, request_body, "
    "response_body, upstream_ms, api"
)
KEY_COLUMNS = (
    "id, digest, prefix, subject, created_at, teams, admin_teams, models, expires_at, "
    "last_used_at, revoked_at"
)


def migrate(conn: sqlite3.Connection) -> None:
    """Brings the schema to SCHEMA_VERSION; a no-op when it is there already."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        version = row[0] or 0
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"database schema version {version} is newer than this gateway's "
                f"({SCHEMA_VERSION}); upgrade the gateway"
            )
        for script in MIGRATIONS[version:]:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
        if version < SCHEMA_VERSION:
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _json_default(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: object) -> str:
    return orjson.dumps(value, default=_json_default).decode()


def log_row(r: LogRecord) -> tuple[Any, ...]:
    """The `logs` row of a record, in LOG_COLUMNS order."""
    attempts = [
        [
            a.model,
            a.http_status,
            a.error_code,
            a.latency_ms,
            a.input_tokens,
            a.output_tokens,
            a.cost,
        ]
        for a in r.attempts
    ]
    return (
        r.id,
        r.created_at,
        r.model,
        r.resolved_model,
        r.provider_account,
        r.subject,
        r.key_id,
        r.status,
        r.http_status,
        r.error_code,
        r.error_message,
        r.stream,
        r.input_tokens,
        r.output_tokens,
        r.total_tokens,
        r.cost,
        r.latency_ms,
        r.ttft_ms,
        dumps(r.teams),
        dumps(r.metadata),
        dumps(attempts),
        r.request_body,
        r.response_body,
        r.upstream_ms,
        r.api,
    )


def log_record(row: tuple[Any, ...]) -> LogRecord:
    """The inverse of log_row."""
    (id_, created_at, model, resolved, account, subject, key_id, status, http_status) = row[:9]
    (error_code, error_message, stream, tin, tout, ttotal, cost, latency, ttft) = row[9:18]
    teams, metadata, attempts, request_body, response_body, upstream_ms, api = row[18:]
    return LogRecord(
        id=id_,
        created_at=created_at,
        model=model,
        resolved_model=resolved,
        provider_account=account,
        subject=subject,
        key_id=key_id,
        status=status,
        http_status=http_status,
        stream=bool(stream),
        latency_ms=latency,
        teams=tuple(orjson.loads(teams)),
        metadata=orjson.loads(metadata),
        attempts=tuple(Attempt(*a) for a in orjson.loads(attempts)),
        error_code=error_code,
        error_message=error_message,
        input_tokens=tin,
        output_tokens=tout,
        total_tokens=ttotal,
        cost=cost,
        ttft_ms=ttft,
        request_body=request_body,
        response_body=response_body,
        upstream_ms=upstream_ms,
        api=api,
    )


def key_row(k: ApiKeyRecord) -> tuple[Any, ...]:
    """The `api_keys` row of a key, in KEY_COLUMNS order."""
    return (
        k.id,
        k.digest,
        k.prefix,
        k.subject,
        k.created_at,
        dumps(k.teams),
        dumps(k.admin_teams),
        dumps(k.models),
        k.expires_at,
        k.last_used_at,
        k.revoked_at,
    )


def key_record(row: tuple[Any, ...]) -> ApiKeyRecord:
    """The inverse of key_row."""
    id_, digest, prefix, subject, created_at, teams, admin_teams, models = row[:8]
    expires_at, last_used_at, revoked_at = row[8:]
    return ApiKeyRecord(
        id=id_,
        digest=digest,
        prefix=prefix,
        subject=subject,
        created_at=created_at,
        teams=tuple(orjson.loads(teams)),
        admin_teams=tuple(orjson.loads(admin_teams)),
        models=tuple(orjson.loads(models)),
        expires_at=expires_at,
        last_used_at=last_used_at,
        revoked_at=revoked_at,
    )
