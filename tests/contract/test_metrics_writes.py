"""Metrics on every store after writes that change them: retention, replays, late sets."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect, BulkWriteError

from core.errors import InvalidRequest
from core.store import mongo_rollups
from core.store.base import LogQuery, LogRecord, Store
from core.store.mongo import MongoStore
from core.store.sqlite import SqliteStore
from core.usage.engine import MetricsEngine
from core.usage.rollup import DAY_MS, HOUR_MS, MINUTE_MS, Rollups
from tests.contract.conftest import ROLLUPS, STORES
from tests.contract.test_metrics import (
    DAY0,
    RECORDS,
    START,
    _answer,
    _engine,
    _folded,
    _oracle,
    _query,
    load,
)
from tests.fakes.mongo import FakeMongoClient


@pytest.fixture
async def loaded(rollup_store: Store) -> Store:
    await load(rollup_store)
    return rollup_store


async def test_retention_removes_records_and_rollups_alike(loaded: Store) -> None:
    while await loaded.delete_logs_before(DAY0 + DAY_MS, batch_size=7) == 7:
        pass
    remaining = [r for r in RECORDS if r.created_at >= DAY0 + DAY_MS]
    query = _query(start=DAY0 - DAY_MS, group_by=("model",), interval="day")
    assert _answer(await _engine(loaded).run(query)) == _oracle(query, remaining)
    async with loaded.metrics_snapshot() as view:
        for span in (MINUTE_MS, HOUR_MS, DAY_MS):
            for set_id in ("route", "caller", "metadata.customer_id"):
                assert await view.read_rollups(set_id, span, DAY0 - DAY_MS, DAY0 + DAY_MS) == []


async def test_an_id_twice_in_one_batch_counts_once(rollup_store: Store) -> None:
    await rollup_store.insert_logs([RECORDS[0], RECORDS[0], RECORDS[1]])
    query = _query(group_by=("model",), interval="minute")
    assert _answer(await _engine(rollup_store).run(query)) == _oracle(query, RECORDS[:2])


async def test_usage_of_every_record_even_with_one_batch(rollup_store: Store) -> None:
    # One batch in the store's insert, mixing minutes, hours and days.
    await rollup_store.insert_logs(RECORDS)
    await rollup_store.insert_logs(RECORDS)  # replayed whole
    query = _query(group_by=("resolved_model",), interval="minute")
    assert _answer(await _engine(rollup_store).run(query)) == _oracle(query)


@pytest.fixture(params=STORES)
async def reopen(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[[Rollups | None], Store]]:
    """Makes stores over one database: the same file, or the same MongoDB database."""
    if request.param == "sqlite":
        yield lambda rollups: SqliteStore(tmp_path / "gateway.db", rollups=rollups)
        return
    client: Any = FakeMongoClient()
    if request.param == "mongo-real":
        client = AsyncMongoClient(request.getfixturevalue("mongo_uri"))
    database = f"gateway_test_{uuid.uuid4().hex[:12]}"
    yield lambda rollups: MongoStore(
        "mongodb://unused", database=database, client=client, rollups=rollups
    )
    await client.drop_database(database)
    await client.close()


async def test_a_set_declared_after_records_reads_them_raw(
    reopen: Callable[[Rollups | None], Store],
) -> None:
    before = reopen(None)
    await before.open()
    await before.insert_logs(RECORDS[:30])
    await before.close()
    store = reopen(ROLLUPS)
    await store.open()
    try:
        async with store.metrics_snapshot() as view:
            since = (await view.rollup_since())["metadata.customer_id"]
        assert since > RECORDS[29].created_at
        assert since % MINUTE_MS == 0
        query = _query(group_by=("metadata.customer_id",), interval="hour")
        # The stored records predate the set: read raw, within the window...
        assert _answer(await _engine(store).run(query)) == _oracle(query, RECORDS[:30])
        # ...and refused beyond it, naming the start of the period.
        with pytest.raises(InvalidRequest) as refused:
            await _engine(store, raw_window_ms=HOUR_MS).run(query)
        assert refused.value.param == "start_time"
    finally:
        await store.close()


class _Racing:
    """The store, with a new record landing in the middle of a query's reads."""

    def __init__(self, inner: Store, record: LogRecord) -> None:
        self.inner = inner
        self.record: LogRecord | None = record
        self.reads = 0

    @asynccontextmanager
    async def metrics_snapshot(self) -> AsyncIterator[Any]:
        async with self.inner.metrics_snapshot() as view:
            yield _RacingView(self, view)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _RacingView:
    def __init__(self, racing: _Racing, view: Any) -> None:
        self._racing = racing
        self._view = view

    async def aggregate_rollups(self, *args: Any, **kwargs: Any) -> Any:
        self._racing.reads += 1
        record = self._racing.record
        if record is not None and self._racing.reads == 2:  # after the top groups' rows
            self._racing.record = None
            await self._racing.inner.insert_logs([record])
        return await self._view.aggregate_rollups(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._view, name)


async def test_a_record_landing_mid_query_keeps_rows_and_totals_together(
    loaded: Store, request: pytest.FixtureRequest
) -> None:
    # A record of the top group lands after its rows were read, before the totals are.
    late = replace(RECORDS[0], id="racing", created_at=START + 30_000)
    racing = _Racing(loaded, late)
    query = _query(start=START + 1, group_by=("model",), limit=1)
    result = await MetricsEngine(cast(Store, racing), ROLLUPS, raw_window_ms=DAY_MS).run(query)
    assert racing.record is None  # it did land mid-query
    assert all(row.totals.consistent() for row in result.rows)
    assert sum(row.totals.requests for row in result.rows) == result.totals.requests
    if "sqlite" in request.node.callspec.id:  # one snapshot: as if the record came after
        assert _answer(result) == _folded(query)


def _duplicate_key_upserts(count: int) -> BulkWriteError:
    """What a server reports when `count` upserts lost a race to insert the same new row."""
    errors = [{"index": i, "code": 11000, "errmsg": "E11000 duplicate key"} for i in range(count)]
    return BulkWriteError({"writeErrors": errors, "writeConcernErrors": [], "nInserted": 0})


async def _mongo_with_rollups(client: FakeMongoClient) -> MongoStore:
    store = MongoStore("mongodb://in-memory", client=client, rollups=ROLLUPS)
    await store.open()
    return store


async def test_mongo_tries_the_upserts_a_server_failed_again() -> None:
    client = FakeMongoClient()
    store = await _mongo_with_rollups(client)
    # The first write fails its first three upserts, the retry of those fails one again.
    client.bulk_failures = [(_duplicate_key_upserts(3), 3), (_duplicate_key_upserts(1), 1)]
    await store.insert_logs(RECORDS)
    assert client.bulk_failures == []
    query = _query(group_by=("resolved_model",), interval="minute")
    assert _answer(await _engine(store).run(query)) == _oracle(query)
    await store.close()


async def test_mongo_keeps_the_records_when_rollups_cannot_be_written(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = FakeMongoClient()
    store = await _mongo_with_rollups(client)
    failures = [(_duplicate_key_upserts(2), 2)] * mongo_rollups.WRITE_ATTEMPTS
    client.bulk_failures = [(AutoReconnect("connection reset"), 0), *failures]
    with caplog.at_level(logging.ERROR, logger="core.store.mongo_rollups"):
        await store.insert_logs(RECORDS[:10])  # an unknown outcome: not tried again
        await store.insert_logs(RECORDS[10:20])  # two upserts fail every try
    assert client.bulk_failures == []
    assert (await store.query_logs(LogQuery(limit=0))).total == 20
    assert [r.getMessage().split(" rollup")[0] for r in caplog.records] == [
        f"{len(ROLLUPS.aggregate(RECORDS[:10]))} of {len(ROLLUPS.aggregate(RECORDS[:10]))}",
        f"2 of {len(ROLLUPS.aggregate(RECORDS[10:20]))}",
    ]
    await store.close()
