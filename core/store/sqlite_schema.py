"""The SQLite schema, its migrations, and the row <-> record conversions.

`logs` has one column per filterable field (`user` is `subject`) plus JSON text for the
nested parts. Metadata and teams are also kept one row per value in side tables keyed by
the integer `logs.pk` and carrying `created_at`. Each side table is a WITHOUT ROWID table
whose primary key is its only index, `(key, value, created_at, log_id)` and
`(team, created_at, log_id)`: a `metadata.<key>` or `team` filter is a range scan of it
over the queried time range, and every side row costs one b-tree insert, not two (the
insert rate is bound by b-tree writes).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

import orjson

from core.store.base import ApiKeyRecord, Attempt, LogRecord

SCHEMA_VERSION = 1

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
)

PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    # With WAL, NORMAL loses at most the last transactions on power loss, never corrupts.
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -65536",  # KiB: 64 MiB of page cache
    # Checkpoint every ~40 MB of WAL rather than every 4 MB: index pages written by several
    # batches are then copied (and fsynced) once, which more than doubles the insert rate.
    "PRAGMA wal_autocheckpoint = 10000",
    "PRAGMA journal_size_limit = 67108864",
)

LOG_COLUMNS = (
    "id, created_at, model, resolved_model, provider_account, subject, key_id, status, "
    "http_status, error_code, error_message, stream, input_tokens, output_tokens, "
    "total_tokens, cost, latency_ms, ttft_ms, teams, metadata, attempts, request_body, "
    "response_body"
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


def _body(text: str | None) -> Mapping[str, Any] | None:
    return None if text is None else orjson.loads(text)


def log_row(r: LogRecord) -> tuple[Any, ...]:
    """The `logs` row of a record, in LOG_COLUMNS order."""
    attempts = [[a.model, a.http_status, a.error_code, a.latency_ms] for a in r.attempts]
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
        None if r.request_body is None else dumps(r.request_body),
        None if r.response_body is None else dumps(r.response_body),
    )


def log_record(row: tuple[Any, ...]) -> LogRecord:
    """The inverse of log_row."""
    (id_, created_at, model, resolved, account, subject, key_id, status, http_status) = row[:9]
    (error_code, error_message, stream, tin, tout, ttotal, cost, latency, ttft) = row[9:18]
    teams, metadata, attempts, request_body, response_body = row[18:]
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
        request_body=_body(request_body),
        response_body=_body(response_body),
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
