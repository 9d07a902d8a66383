"""Rollup rows in SQLite: added to in the log-insert transaction, read by metrics queries.

`rollups` has one row per (set id, span, bucket start, dimension values) with the counts,
tokens and cost as integers and the three latency histograms as `histogram.encode()` bytes.
Adding a batch is one upsert per row: the integer columns add up in SQL and the histograms
through `gw_hist_add`, a function registered on each connection. `rollup_sets` holds each
set's `since` (see Store.rollup_since). Both tables arrive with schema version 3.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Mapping

from core.store.base import RollupRow
from core.usage import histogram
from core.usage.rollup import SPANS, RollupKey, since_for_new_set
from core.usage.totals import Totals

SCHEMA = """
    CREATE TABLE rollups (
        set_id TEXT NOT NULL,
        span INTEGER NOT NULL,
        start INTEGER NOT NULL,
        dimensions TEXT NOT NULL,
        requests INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        total_tokens INTEGER NOT NULL,
        cost_nano INTEGER NOT NULL,
        latency BLOB NOT NULL,
        ttft BLOB NOT NULL,
        overhead BLOB NOT NULL
    );
    CREATE UNIQUE INDEX rollups_key ON rollups (set_id, span, start, dimensions);
    CREATE TABLE rollup_sets (set_id TEXT PRIMARY KEY, since INTEGER NOT NULL)
"""

_ADD = (
    "INSERT INTO rollups (set_id, span, start, dimensions, requests, errors, input_tokens, "
    "output_tokens, total_tokens, cost_nano, latency, ttft, overhead) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (set_id, span, start, dimensions) DO UPDATE SET "
    "requests = requests + excluded.requests, errors = errors + excluded.errors, "
    "input_tokens = input_tokens + excluded.input_tokens, "
    "output_tokens = output_tokens + excluded.output_tokens, "
    "total_tokens = total_tokens + excluded.total_tokens, "
    "cost_nano = cost_nano + excluded.cost_nano, "
    "latency = gw_hist_add(latency, excluded.latency), "
    "ttft = gw_hist_add(ttft, excluded.ttft), "
    "overhead = gw_hist_add(overhead, excluded.overhead)"
)
_READ = (
    "SELECT start, dimensions, requests, errors, input_tokens, output_tokens, total_tokens, "
    "cost_nano, latency, ttft, overhead FROM rollups "
    "WHERE set_id = ? AND span = ? AND start >= ? AND start < ?"
)
# Buckets wholly before the cutoff; per span, so that each delete is a range of the index.
_DELETE_BEFORE = "DELETE FROM rollups WHERE set_id = ? AND span = ? AND start <= ?"


def _hist_add(a: bytes | None, b: bytes | None) -> bytes:
    if not b:
        return a or b""
    if not a:
        return b
    return histogram.encode(histogram.decode(a) + histogram.decode(b))


def install_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions the rollup statements use."""
    conn.create_function("gw_hist_add", 2, _hist_add, deterministic=True)


def add(conn: sqlite3.Connection, rows: Mapping[RollupKey, Totals]) -> None:
    """Adds a batch's totals to their rows (inside the caller's write transaction)."""
    conn.executemany(
        _ADD,
        [
            (
                *key,
                t.requests,
                t.errors,
                t.input_tokens,
                t.output_tokens,
                t.total_tokens,
                t.cost_nano,
                histogram.encode(t.latency),
                histogram.encode(t.ttft),
                histogram.encode(t.overhead),
            )
            for key, t in rows.items()
        ],
    )


def read(conn: sqlite3.Connection, set_id: str, span: int, start: int, end: int) -> list[RollupRow]:
    decode = histogram.decode
    return [
        RollupRow(
            start=row[0],
            dimensions=row[1],
            totals=Totals(
                requests=row[2],
                errors=row[3],
                input_tokens=row[4],
                output_tokens=row[5],
                total_tokens=row[6],
                cost_nano=row[7],
                latency=decode(row[8]),
                ttft=decode(row[9]),
                overhead=decode(row[10]),
            ),
        )
        for row in conn.execute(_READ, (set_id, span, start, end))
    ]


def register(conn: sqlite3.Connection, set_ids: Iterable[str]) -> dict[str, int]:
    """Registers sets not seen before and drops those no longer configured (records stored
    meanwhile are not in their rows), in a write transaction; returns each set's since."""
    wanted = list(set_ids)
    known: dict[str, int] = dict(conn.execute("SELECT set_id, since FROM rollup_sets").fetchall())
    dropped = [(s,) for s in known if s not in wanted]
    conn.executemany("DELETE FROM rollups WHERE set_id = ?", dropped)
    conn.executemany("DELETE FROM rollup_sets WHERE set_id = ?", dropped)
    known = {s: since for s, since in known.items() if s in wanted}
    new = [s for s in wanted if s not in known]
    if new:
        newest: int | None = conn.execute("SELECT max(created_at) FROM logs").fetchone()[0]
        since = since_for_new_set(newest, time.time_ns() // 1_000_000)
        conn.executemany("INSERT INTO rollup_sets VALUES (?, ?)", [(s, since) for s in new])
        known.update(dict.fromkeys(new, since))
    return known


def delete_before(conn: sqlite3.Connection, cutoff: int) -> None:
    """Deletes every row whose whole bucket lies before `cutoff` (epoch ms)."""
    set_ids = [row[0] for row in conn.execute("SELECT set_id FROM rollup_sets")]
    conn.executemany(_DELETE_BEFORE, [(s, span, cutoff - span) for s in set_ids for span in SPANS])
