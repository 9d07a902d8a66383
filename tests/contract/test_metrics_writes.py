"""Metrics on every store after writes that change them: retention, replays, late sets."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from core.errors import InvalidRequest
from core.store.base import Store
from core.store.mongo import MongoStore
from core.store.sqlite import SqliteStore
from core.usage.rollup import DAY_MS, HOUR_MS, MINUTE_MS, Rollups
from tests.contract.conftest import ROLLUPS, STORES
from tests.contract.test_metrics import (
    DAY0,
    RECORDS,
    _answer,
    _engine,
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
    for span in (MINUTE_MS, HOUR_MS, DAY_MS):
        for set_id in ("route", "caller", "metadata.customer_id"):
            assert await loaded.read_rollups(set_id, span, DAY0 - DAY_MS, DAY0 + DAY_MS) == []


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
        since = (await store.rollup_since())["metadata.customer_id"]
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
