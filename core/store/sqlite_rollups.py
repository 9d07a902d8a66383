"""Rollup rows in SQLite: added to in the log-insert transaction, read by metrics queries.

`rollups` has one row per (set id, span, bucket start, dimension values) with the counts,
tokens and cost as integers and the three latency histograms as `histogram.encode()` bytes.
It is a WITHOUT ROWID table on that key: a query reads a range of it in key order, and an
upsert touches one b-tree (rows are small: a few hundred bytes at most, for day rows).
Adding is an upsert per row: the integer columns add up in SQL and the histograms merge
through `gw_hist_add` (Python, called only when both sides hold values); folds merge them
with the aggregate `gw_hist_sum`. Both are registered on each connection.

Inserts write minute rows only; hours and days are folded from them once an hour is over
(`fold`), which keeps the log writer's work a third of writing all three spans. The
`folded_until` mark in `rollup_state` says up to when hours and days are complete: a record
older than it (a late one: a replayed journal, a backdated LogService.Log) also adds to its
hour and day rows directly, in the same transaction that reads the mark, so whatever the
order of inserts and folds, and across processes sharing the file, every record counts once
in each span. Queries use hours and days only before the mark. `rollup_sets` holds each
set's `since` (see Store.rollup_since). The tables arrive with schema version 3.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, cast

import orjson

from core.store.base import LogRecord, RollupRow
from core.store.sqlite_transaction import transaction
from core.usage import histogram
from core.usage.accumulate import Bucket, Classify, Grouped, accumulate, finish
from core.usage.rollup import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    SPANS,
    RollupKey,
    Rollups,
    floor_to,
    since_for_new_set,
)
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
        overhead BLOB NOT NULL,
        PRIMARY KEY (set_id, span, start, dimensions)
    ) WITHOUT ROWID;
    CREATE TABLE rollup_sets (set_id TEXT PRIMARY KEY, since INTEGER NOT NULL);
    CREATE TABLE rollup_state (name TEXT PRIMARY KEY, value INTEGER NOT NULL)
"""

_INSERT = (
    "INSERT INTO rollups (set_id, span, start, dimensions, requests, errors, input_tokens, "
    "output_tokens, total_tokens, cost_nano, latency, ttft, overhead) "
)
# What an insert meeting an existing row does: add to it.
_ADD_TO_ROW = (
    "ON CONFLICT (set_id, span, start, dimensions) DO UPDATE SET "
    "requests = requests + excluded.requests, errors = errors + excluded.errors, "
    "input_tokens = input_tokens + excluded.input_tokens, "
    "output_tokens = output_tokens + excluded.output_tokens, "
    "total_tokens = total_tokens + excluded.total_tokens, "
    "cost_nano = cost_nano + excluded.cost_nano, "
    + ", ".join(
        # An empty histogram is x'': merging in Python only when both sides hold values.
        f"{h} = CASE WHEN excluded.{h} = x'' THEN {h} WHEN {h} = x'' THEN excluded.{h} "
        f"ELSE gw_hist_add({h}, excluded.{h}) END"
        for h in ("latency", "ttft", "overhead")
    )
)
_ADD = _INSERT + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) " + _ADD_TO_ROW
_PIECE = "WHERE set_id = ? AND span = ? AND start >= ? AND start < ?"
"""The rows of one (set, span, start, end) piece: a range of the primary key."""
_READ = (
    "SELECT start, dimensions, requests, errors, input_tokens, output_tokens, total_tokens, "
    f"cost_nano, latency, ttft, overhead FROM rollups {_PIECE}"
)
# Buckets wholly before the cutoff; per span, so that each delete is a range of the index.
_DELETE_BEFORE = "DELETE FROM rollups WHERE set_id = ? AND span = ? AND start <= ?"


# A fold, per set: one span's rows of the hour from its minute rows, added to what is there.
_FOLD = (
    _INSERT + "SELECT set_id, ?, ?, dimensions, sum(requests), sum(errors), sum(input_tokens), "
    "sum(output_tokens), sum(total_tokens), sum(cost_nano), gw_hist_sum(latency), "
    "gw_hist_sum(ttft), gw_hist_sum(overhead) FROM rollups "
    f"WHERE set_id = ? AND span = {MINUTE_MS} AND start >= ? AND start < ? "
    "GROUP BY dimensions " + _ADD_TO_ROW
)
FOLDED_UNTIL = "folded_until"
FOLD_GRACE_MS = 2 * MINUTE_MS
"""An hour is folded this long after it ended: records that come in time take the short way."""
MAX_FOLD_HOURS = 24
"""Most hours one fold call handles (the next insert goes on), to keep each call short."""


def _hist_add(a: bytes, b: bytes) -> bytes:
    return histogram.encode(histogram.merge_encoded((a, b)))


class _HistSum:
    """The aggregate `gw_hist_sum(blob)`: the encoded merge of encoded histograms."""

    def __init__(self) -> None:
        self._parts: list[bytes | None] = []

    def step(self, value: bytes | None) -> None:
        self._parts.append(value)

    def finalize(self) -> bytes:
        # compact: folds write the rows queries read
        return histogram.encode(histogram.merge_encoded(self._parts), compact=True)


def install_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions the rollup statements use."""
    conn.create_function("gw_hist_add", 2, _hist_add, deterministic=True)
    conn.create_aggregate("gw_hist_sum", 1, cast(Any, _HistSum))


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
    return [
        RollupRow(row[0], row[1], Totals(*row[2:8], *map(histogram.decode, row[8:])))
        for row in conn.execute(_READ, (set_id, span, start, end))
    ]


_COUNTS_ONLY = _READ.replace(", latency, ttft, overhead", "")
_REQUESTS_BY_TEXT = f"SELECT dimensions, sum(requests) FROM rollups {_PIECE} GROUP BY dimensions"


def count(
    conn: sqlite3.Connection, set_id: str, pieces: Sequence[tuple[int, int, int]]
) -> dict[str, int]:
    """Store.count_rollups, added up by SQLite itself."""
    out: dict[str, int] = {}
    for span, start, end in pieces:
        for text, requests in conn.execute(_REQUESTS_BY_TEXT, (set_id, span, start, end)):
            out[text] = out.get(text, 0) + requests
    return out


def aggregate(
    conn: sqlite3.Connection,
    set_id: str,
    pieces: Sequence[tuple[int, int, int]],
    classify: Classify,
    bucket: Bucket,
    histograms: bool,
    dimensions: Collection[str] | None = None,
) -> Grouped:
    """Store.aggregate_rollups, stepping through the rows on this connection's thread."""
    into: dict[tuple[int, int | None], list[Any]] = {}
    sql = _READ if histograms else _COUNTS_ONLY
    texts: tuple[str, ...] = ()
    if dimensions is not None:  # other rows are skipped in SQLite's loop, never reaching Python
        sql += " AND dimensions IN (SELECT value FROM json_each(?))"
        texts = (orjson.dumps(list(dimensions)).decode(),)
    for span, start, end in pieces:
        rows = conn.execute(sql, (set_id, span, start, end, *texts))
        accumulate(rows, classify, bucket, histograms, into)
    return finish(into, histogram.merge_encoded if histograms else None)


def register(conn: sqlite3.Connection, set_ids: Iterable[str], now_ms: int) -> dict[str, int]:
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
        since = since_for_new_set(newest, now_ms)
        conn.executemany("INSERT INTO rollup_sets VALUES (?, ?)", [(s, since) for s in new])
        known.update(dict.fromkeys(new, since))
    return known


def delete_before(conn: sqlite3.Connection, cutoff: int) -> None:
    """Deletes every row whose whole bucket lies before `cutoff` (epoch ms)."""
    set_ids = [row[0] for row in conn.execute("SELECT set_id FROM rollup_sets")]
    conn.executemany(_DELETE_BEFORE, [(s, span, cutoff - span) for s in set_ids for span in SPANS])


def _stored_mark(conn: sqlite3.Connection) -> int | None:
    found = conn.execute(
        "SELECT value FROM rollup_state WHERE name = ?", (FOLDED_UNTIL,)
    ).fetchone()
    return None if found is None else int(found[0])


def read_folded_until(conn: sqlite3.Connection) -> int:
    """The fold mark as stored (0 before the first fold): what queries may rely on."""
    return _stored_mark(conn) or 0


def folded_until(conn: sqlite3.Connection, now_ms: int) -> int:
    """Up to when (epoch ms, an hour boundary) hours and days are folded from minutes."""
    found = _stored_mark(conn)
    if found is not None:
        return found
    # A new table: nothing to fold before this hour; records older than it are late ones.
    mark = floor_to(now_ms, HOUR_MS)
    conn.execute("INSERT INTO rollup_state VALUES (?, ?)", (FOLDED_UNTIL, mark))
    return mark


def add_records(
    conn: sqlite3.Connection, rollups: Rollups, records: list[LogRecord], now_ms: int
) -> None:
    """Adds newly stored records to their rows (inside the insert's write transaction)."""
    mark = folded_until(conn, now_ms)
    late = [r for r in records if r.created_at < mark]
    rows = rollups.aggregate(
        [r for r in records if r.created_at >= mark] if late else records, (MINUTE_MS,)
    )
    if late:  # their hours are folded already: add to every span
        rows.update(rollups.aggregate(late, SPANS))
    add(conn, rows)


def fold_due(mark: int, now_ms: int) -> bool:
    """Whether an hour is over (and its grace) that is not folded yet."""
    return mark + HOUR_MS + FOLD_GRACE_MS <= now_ms


def fold(conn: sqlite3.Connection, now_ms: int) -> int:
    """Folds the hours that are over into hour and day rows of every registered set (the
    mark is one for all of them), at most MAX_FOLD_HOURS hours, one transaction each;
    returns the new mark."""
    for _ in range(MAX_FOLD_HOURS):
        with transaction(conn):
            mark = folded_until(conn, now_ms)  # read again: another process may have folded
            if not fold_due(mark, now_ms):
                return mark
            for (set_id,) in conn.execute("SELECT set_id FROM rollup_sets").fetchall():
                for span, start in ((HOUR_MS, mark), (DAY_MS, floor_to(mark, DAY_MS))):
                    conn.execute(_FOLD, (span, start, set_id, mark, mark + HOUR_MS))
            conn.execute(
                "UPDATE rollup_state SET value = ? WHERE name = ?", (mark + HOUR_MS, FOLDED_UNTIL)
            )
    return folded_until(conn, now_ms)
