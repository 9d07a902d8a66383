"""Adapter specifics outside the shared contract: factory choice, SQLite schema and safety."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.store.base import LogFilter, LogQuery, LogSort
from core.store.factory import open_store
from core.store.mongo import MongoStore
from core.store.sqlite import SqliteStore
from core.store.sqlite_query import order_sql, where_sql
from core.store.sqlite_schema import SCHEMA_VERSION
from tests.contract.records import SAMPLE, make_log


@pytest.mark.parametrize("uri", ["mongodb://db:27017", "mongodb+srv://cluster.example.net"])
def test_factory_picks_mongo_for_mongo_uris(uri: str, tmp_path: Path) -> None:
    assert isinstance(open_store(uri=uri, data_dir=tmp_path, metadata_index_keys=["a"]), MongoStore)


@pytest.mark.parametrize("uri", [None, "", "sqlite:///x"])
def test_factory_defaults_to_sqlite_in_the_data_dir(uri: str | None, tmp_path: Path) -> None:
    store = open_store(uri=uri, data_dir=tmp_path)
    assert isinstance(store, SqliteStore)
    assert not (tmp_path / "gateway.db").exists()  # nothing is opened before open()


async def test_sqlite_reopen_keeps_data_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "gateway.db"
    store = SqliteStore(path)
    await store.open()
    await store.open()  # idempotent
    await store.insert_logs(SAMPLE)
    await store.close()
    await store.close()

    again = SqliteStore(path)
    await again.open()
    assert (await again.query_logs(LogQuery())).total == len(SAMPLE)
    await again.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()


async def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION + 1,))
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        await SqliteStore(path).open()


async def test_sqlite_calls_before_open_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not open"):
        await SqliteStore(tmp_path / "x.db").query_logs(LogQuery())


HOSTILE = "x'); DROP TABLE logs; --"


async def test_values_and_metadata_keys_are_bound_never_interpolated(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "gateway.db")
    await store.open()
    await store.insert_logs([make_log("a", metadata={HOSTILE: HOSTILE}, subject=HOSTILE)])
    filters = (
        LogFilter(f"metadata.{HOSTILE}", "EQ", HOSTILE),
        LogFilter("user", "IN", [HOSTILE]),
        LogFilter("model", "CONTAINS", HOSTILE),
    )
    page = await store.query_logs(
        LogQuery(filters=filters[:2], sort=(LogSort(f"metadata.{HOSTILE}"),))
    )
    assert [r.id for r in page.records] == ["a"]
    assert (await store.query_logs(LogQuery(filters=filters[2:]))).total == 0
    await store.close()
    sql, params = where_sql(LogQuery(filters=filters))
    assert HOSTILE not in sql
    assert params.count(HOSTILE) == 3
    assert HOSTILE not in order_sql((LogSort(f"metadata.{HOSTILE}"),))[0]


def _plan(path: Path, query: LogQuery) -> str:
    where, params = where_sql(query)
    order, order_params = order_sql(query.sort)
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            f"EXPLAIN QUERY PLAN SELECT * FROM logs{where}{order} LIMIT 25",
            [*params, *order_params],
        )
        plan = " | ".join(row[3] for row in rows)
    conn.close()
    return plan


async def test_sqlite_filters_use_indexes(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    window = (LogFilter("created_at", "GTE", 1), LogFilter("created_at", "LT", 9))
    assert "USING INDEX logs_created" in _plan(path, LogQuery(filters=window))
    customer = LogQuery(filters=(*window, LogFilter("metadata.customer_id", "EQ", "1")))
    assert (
        "SEARCH log_metadata USING PRIMARY KEY (key=? AND value=? AND created_at>? AND created_at<?)"
        in _plan(path, customer)
    )
    team = LogQuery(filters=(LogFilter("team", "IN", ["a", "b"]),))
    assert "SEARCH log_teams USING PRIMARY KEY (team=?)" in _plan(path, team)
