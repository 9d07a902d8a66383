"""SQLite specifics behind the contract: every page plan and the count buckets give the
contract's answers, and the lanes keep reads off a blocked write.

The SQLite store picks, per query, between walking the created_at index (stopping once the
page is full, possibly over a bounded prefix of the range first) and the planner's plan, and
counts from buckets or side tables when it can. With the contract's six records it would
mostly pick one way, so here each plan is forced in turn and the contract sweeps run again.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.store import sqlite as sqlite_store
from core.store.base import LogFilter, LogQuery, LogRecord, LogScope, LogSort, Operator
from core.store.sqlite import SqliteStore
from core.store.sqlite_schema import SCHEMA_VERSION, add_counts_sql
from tests.contract.records import SAMPLE, expected_order, make_key, make_log, matches, visible

# The contract sweeps, collected again here with this module's `store` fixture.
from tests.contract.test_log_queries import (  # noqa: F401
    test_default_sort_is_newest_first_then_id,
    test_documented_semantics,
    test_every_operator_on_every_field,
    test_filters_are_anded,
    test_limit_offset_and_total,
    test_scope,
    test_sort,
)
from tests.contract.test_log_writes import (  # noqa: F401
    test_delete_logs_before_is_bounded_and_oldest_first,
    test_delete_then_reinsert_same_id,
    test_inserts_are_idempotent_by_id,
)

# "drive": the planner's plan always; "walk-N": walk the first N records of the range (then
# the planner's plan if they do not hold the page); "walk-all": walk the whole range.
PLANS = ["drive", "walk-1", "walk-2", "walk-5", "walk-all"]


def force_plan(monkeypatch: pytest.MonkeyPatch, plan: str) -> None:
    if plan == "drive":
        monkeypatch.setattr(sqlite_store, "DRIVE_MAX", 10**9)
        return
    span = 10**9 if plan == "walk-all" else int(plan.removeprefix("walk-"))
    monkeypatch.setattr(sqlite_store, "DRIVE_MAX", 0)
    monkeypatch.setattr(sqlite_store, "_walk_span", lambda reach, in_range, total: span)


@pytest.fixture(params=PLANS)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[SqliteStore]:
    force_plan(monkeypatch, request.param)
    opened = SqliteStore(tmp_path / "gateway.db")
    await opened.open()
    yield opened
    await opened.close()


# --- many records, ties on created_at, random queries against the oracle

SUBJECTS = ("user:a", "user:b", "user:c", "virtualaccount:d")
TEAMS = ("red", "blue", "green")


def _many(count: int, seed: int) -> list[LogRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        metadata = {"env": rng.choice(("prod", "dev", "prod", "prod"))}
        if rng.random() < 0.3:
            metadata["customer"] = f"c{rng.randrange(5)}"
        out.append(
            make_log(
                f"id-{rng.randrange(10**6):06d}-{i}",
                1_000 + rng.randrange(40) * 10,  # many records share a created_at
                subject=rng.choice(SUBJECTS),
                teams=tuple(rng.sample(TEAMS, rng.randrange(3))),
                status=rng.choice(("success", "success", "error")),
                metadata=metadata,
                cost=rng.choice((0.0, 0.5, 1.0)),
            )
        )
    return out


def _random_query(rng: random.Random) -> LogQuery:
    filters: list[LogFilter] = []
    if rng.random() < 0.7:
        filters.append(
            LogFilter("created_at", rng.choice(("GTE", "GT")), 1_000 + rng.randrange(20) * 10)
        )
    if rng.random() < 0.7:
        filters.append(
            LogFilter("created_at", rng.choice(("LT", "LTE")), 1_200 + rng.randrange(20) * 10)
        )
    choices: list[LogFilter] = [
        LogFilter("metadata.env", "EQ", "prod"),
        LogFilter("metadata.env", "EQ", "dev"),
        LogFilter("metadata.env", "NEQ", "prod"),
        LogFilter("metadata.customer", "IN", ["c1", "c2"]),
        LogFilter("metadata.customer", "NOT_IN", ["c1"]),
        LogFilter("metadata.customer", "CONTAINS", "C3"),
        LogFilter("metadata.customer", "GT", "c2"),
        LogFilter("team", "EQ", "red"),
        LogFilter("team", "IN", ["red", "green"]),
        LogFilter("team", "NEQ", "blue"),
        LogFilter("team", "CONTAINS", "RE"),
        LogFilter("status", "EQ", "error"),
        LogFilter("user", "IN", ["user:a", "user:c"]),
        LogFilter("user", "EQ", "user:b"),
        LogFilter("status", "IN", ["success", "success"]),
        LogFilter("cost", "GT", 0.0),
    ]
    filters += rng.sample(choices, rng.randrange(3))
    scopes = [
        None,
        None,
        LogScope(subjects=("user:a",)),
        LogScope(subjects=("user:b", "virtualaccount:d"), teams=("green",)),
    ]
    sorts = [
        (LogSort("created_at"),),
        (LogSort("created_at", descending=False),),
        (LogSort("created_at"), LogSort("cost", descending=False)),
        (LogSort("created_at", descending=False), LogSort("metadata.customer")),
    ]
    return LogQuery(
        filters=tuple(filters),
        sort=rng.choice(sorts),
        limit=rng.choice((1, 3, 10, 50)),
        offset=rng.choice((0, 0, 2, 15)),
        scope=rng.choice(scopes),
    )


async def test_random_queries_match_the_oracle(store: SqliteStore) -> None:
    records = _many(300, seed=3)
    await store.insert_logs(records)
    rng = random.Random(5)
    for _ in range(150):
        query = _random_query(rng)
        chosen = [
            r
            for r in records
            if all(matches(r, f) for f in query.filters) and visible(r, query.scope)
        ]
        ordered = expected_order(chosen, query.sort)
        page = await store.query_logs(query)
        assert page.total == len(chosen), query
        assert [r.id for r in page.records] == ordered[query.offset : query.offset + query.limit], (
            query
        )


# --- the count buckets

MINUTE, HOUR = 60_000, 3_600_000
# Around minute and hour boundaries, below zero too.
POINTS = sorted(
    {
        base + delta
        for base in (-HOUR, 0, 5 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR + 7 * MINUTE, 5 * HOUR)
        for delta in (-MINUTE - 1, -1, 0, 1, MINUTE - 1, MINUTE, 17)
    }
)


def _spread(seed: int) -> list[LogRecord]:
    rng = random.Random(seed)
    out = [make_log(f"p{i}", point, subject=rng.choice(SUBJECTS)) for i, point in enumerate(POINTS)]
    out += [
        make_log(f"r{i}", rng.randrange(-2 * HOUR, 6 * HOUR), subject=rng.choice(SUBJECTS))
        for i in range(400)
    ]
    return out


def _bucket_queries(rng: random.Random) -> list[LogQuery]:
    edges = [*POINTS, *(rng.randrange(-3 * HOUR, 7 * HOUR) for _ in range(10))]
    out = []
    for _ in range(120):
        filters = []
        ops: list[Operator] = ["GTE", "GT", "LT", "LTE", "EQ"]
        for op in rng.sample(ops, rng.randrange(3)):
            filters.append(LogFilter("created_at", op, rng.choice(edges)))
        if rng.random() < 0.3:
            filters.append(LogFilter("user", "IN", rng.sample(SUBJECTS, rng.randrange(3))))
        if rng.random() < 0.2:
            filters.append(LogFilter("user", "EQ", rng.choice(SUBJECTS)))
        scope = None
        if rng.random() < 0.4:
            scope = LogScope(subjects=tuple(rng.sample(SUBJECTS, rng.randrange(3))))
        out.append(LogQuery(filters=tuple(filters), scope=scope, limit=5))
    return out


async def _check_totals(store: SqliteStore, records: list[LogRecord], seed: int) -> None:
    for query in _bucket_queries(random.Random(seed)):
        expected = sum(
            1
            for r in records
            if all(matches(r, f) for f in query.filters) and visible(r, query.scope)
        )
        assert (await store.query_logs(query)).total == expected, query


def _counts(path: Path) -> set[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        rows = set(conn.execute("SELECT * FROM log_counts"))
    conn.close()
    return rows


def _recounted(path: Path) -> set[tuple[Any, ...]]:
    """log_counts built afresh from the records, as the migration does."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TEMP TABLE saved AS SELECT * FROM log_counts")
        conn.execute("DELETE FROM log_counts")
        conn.execute(add_counts_sql("SELECT subject, created_at FROM logs"))
        rows = set(conn.execute("SELECT * FROM log_counts"))
        conn.execute("DELETE FROM log_counts")
        conn.execute("INSERT INTO log_counts SELECT * FROM saved")
    conn.close()
    return rows


async def test_bucket_totals_are_exact_through_inserts_replays_and_deletes(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    store = SqliteStore(path)
    await store.open()
    records = _spread(seed=1)
    await store.insert_logs(records[:300])
    await store.insert_logs(records[200:])  # overlapping: a replay
    await store.insert_logs([*records[:5], records[0]])
    await _check_totals(store, records, seed=2)

    cutoff = HOUR + MINUTE
    await store.delete_logs_before(cutoff, batch_size=37)
    await store.delete_logs_before(cutoff, batch_size=10_000)
    kept = [r for r in records if r.created_at >= cutoff]
    assert (await store.query_logs(LogQuery())).total == len(kept)
    await _check_totals(store, kept, seed=3)
    await store.close()
    counts = _counts(path)
    assert counts == _recounted(path)
    assert all(n > 0 for *_, n in counts)  # emptied buckets go


async def test_a_version_1_database_gets_its_counts(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    store = SqliteStore(path)
    await store.open()
    records = _spread(seed=4)
    await store.insert_logs(records)
    await store.close()
    expected = _counts(path)
    with sqlite3.connect(path) as conn:  # back to the version 1 schema
        conn.execute("DROP TABLE responses")
        conn.execute("ALTER TABLE logs DROP COLUMN api")
        conn.execute("DROP TABLE rollups")
        conn.execute("DROP TABLE rollup_sets")
        conn.execute("DROP TABLE rollup_state")
        conn.execute("ALTER TABLE logs DROP COLUMN upstream_ms")
        conn.execute("DROP TABLE log_counts")
        conn.execute("DROP INDEX logs_resolved_differs")
        conn.execute("CREATE INDEX logs_resolved ON logs (resolved_model, created_at)")
        conn.execute("UPDATE schema_version SET version = 1")
    conn.close()

    again = SqliteStore(path)
    await again.open()
    await _check_totals(again, records, seed=5)
    page = await again.query_logs(LogQuery(filters=(LogFilter("resolved_model", "EQ", "x"),)))
    assert page.total == 0
    await again.close()
    assert _counts(path) == expected
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    conn.close()


# --- plans


def _plan(path: Path, sql: str, params: list[Any]) -> str:
    with sqlite3.connect(path) as conn:
        plan = " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    conn.close()
    return plan


async def test_a_walk_reads_the_created_at_index_over_its_range_only(tmp_path: Path) -> None:
    from core.store import sqlite_query as q

    path = tmp_path / "gateway.db"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    query = LogQuery(
        filters=(
            LogFilter("created_at", "GTE", 1),
            LogFilter("created_at", "GT", 3),
            LogFilter("created_at", "LT", 90),
            LogFilter("metadata.env", "EQ", "prod"),
            LogFilter("team", "NEQ", "red"),
        )
    )
    sql, params = q.page_sql(query, walk=True, cutoff=50)
    plan = _plan(path, sql, params)
    # One lower and one upper bound: the cutoff and the tightest LT, nothing else to choose.
    assert "SEARCH logs USING INDEX logs_created (created_at>? AND created_at<?)" in plan
    assert params[:2] == [50, 90]
    # Side-table filters are probed per record by their whole key, never listed first.
    assert "SEARCH s USING PRIMARY KEY (key=? AND value=? AND created_at=? AND log_id=?)" in plan
    assert "LIST SUBQUERY" not in plan.split("SEARCH logs USING INDEX logs_created")[1]
    # One status or subject: the walk follows that (column, created_at) index instead.
    for extra, index in (
        (LogFilter("status", "EQ", "error"), "logs_status (status=?"),
        (LogFilter("user", "IN", ["u", "u"]), "logs_subject (subject=?"),
    ):
        sql, params = q.page_sql(replace(query, filters=(*query.filters, extra)), walk=True)
        assert f"SEARCH logs USING INDEX {index} AND created_at>? AND created_at<?)" in _plan(
            path, sql, params
        )
    one_subject = replace(query, scope=LogScope(subjects=("u",)))
    sql, params = q.cutoff_sql(one_subject)
    assert "logs_subject (subject=? AND created_at>? AND created_at<?)" in _plan(
        path, sql, [*params, 9]
    )
    # A created_at filter that is not a range leaves the page to the planner.
    assert q.walk_direction(replace(query, filters=(LogFilter("created_at", "NEQ", 5),))) is None
    assert q.walk_direction(replace(query, sort=(LogSort("cost"),))) is None


# --- lanes


async def test_reads_never_wait_behind_a_blocked_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Writes wait (almost) forever for the lock here, so they are surely blocked meanwhile.
    monkeypatch.setattr(sqlite_store, "LOG_WRITE_BUSY_MS", 60_000)
    monkeypatch.setattr(sqlite_store, "KEY_WRITE_BUSY_MS", 60_000)
    path = tmp_path / "gateway.db"
    store = SqliteStore(path)
    await store.open()
    await store.insert_key(make_key("k1"))
    await store.insert_logs(SAMPLE[:1])
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        insert = asyncio.create_task(store.insert_logs(SAMPLE[1:]))
        touch = asyncio.create_task(store.touch_keys({"k1": 5}))
        await asyncio.sleep(0)  # a yield, not a wait: both tasks reach their lanes first
        assert await store.find_key_by_digest("digest-k1") == make_key("k1")
        assert (await store.query_logs(LogQuery())).total == 1
        assert await store.get_log("r1") == SAMPLE[0]
        assert not insert.done()
        assert not touch.done()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    await asyncio.gather(insert, touch)
    assert (await store.query_logs(LogQuery())).total == len(SAMPLE)
    assert (await store.get_key("k1")) == make_key("k1", last_used_at=5)
    await store.close()


async def test_a_log_insert_gives_up_soon_on_a_locked_file(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    store = SqliteStore(path)
    await store.open()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await store.insert_logs(SAMPLE)  # the pipeline journals the batch and retries
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    await store.insert_logs(SAMPLE)
    assert (await store.query_logs(LogQuery())).total == len(SAMPLE)
    await store.close()


async def test_checkpoints_run_beside_the_log_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[str] = []
    checkpoint = sqlite_store._checkpoint

    def spy(conn: sqlite3.Connection) -> None:
        import threading

        ran.append(threading.current_thread().name)
        checkpoint(conn)

    monkeypatch.setattr(sqlite_store, "_checkpoint", spy)
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_EVERY_BYTES", 1)
    store = SqliteStore(tmp_path / "gateway.db")
    await store.open()
    await store.insert_logs(SAMPLE[:3])
    await store.delete_logs_before(1_500, batch_size=10)
    await store.close()  # waits for the last checkpoint
    assert ran
    assert all(name.startswith("sqlite-checkpoint") for name in ran)
    again = SqliteStore(tmp_path / "gateway.db")
    await again.open()
    assert (await again.query_logs(LogQuery())).total == 2
    await again.close()


async def test_totals_of_a_scope_with_teams(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.store import sqlite_query as q

    both = q.both_sql
    ways: set[bool] = set()

    def spy(query: LogQuery, *, by_subject: bool) -> tuple[str, list[Any]]:
        ways.add(by_subject)
        return both(query, by_subject=by_subject)

    monkeypatch.setattr(q, "both_sql", spy)
    records = _many(300, seed=7)
    await store.insert_logs(records)
    window = (LogFilter("created_at", "GTE", 1_100), LogFilter("created_at", "LT", 1_300))
    for scope in (
        LogScope(subjects=("user:a",), teams=("red", "blue", "green")),  # few by subject
        LogScope(subjects=SUBJECTS, teams=("green",)),  # few by team
        LogScope(subjects=("user:b", "user:b"), teams=("red", "red")),
        LogScope(teams=("blue",)),
        LogScope(subjects=("user:nobody",), teams=("nobody",)),
    ):
        for filters in ((), window, window[:1]):
            query = LogQuery(filters=filters, scope=scope, limit=7, offset=3)
            chosen = [
                r for r in records if visible(r, scope) and all(matches(r, f) for f in filters)
            ]
            page = await store.query_logs(query)
            assert page.total == len(chosen), query
            expected = expected_order(chosen, query.sort)[3:10]
            assert [r.id for r in page.records] == expected, query
    assert ways == {True, False}
