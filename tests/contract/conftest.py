"""The `store` fixture: every contract test runs against each adapter (`rollup_store`: the
same, keeping rollups of ROLLUPS).

- sqlite: a real file in tmp_path.
- mongo-memory: MongoStore over the in-memory stand-in (tests/fakes/mongo.py).
- mongo-real: MongoStore over a real server (the session's SecantusDB, or a mongod at
  GATEWAY_TEST_MONGODB_URI), a fresh database per test, dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from core.store.base import Store
from core.store.mongo import MongoStore
from core.store.sqlite import SqliteStore
from core.usage.dimensions import rollup_sets
from core.usage.rollup import Rollups
from tests.fakes.mongo import FakeMongoClient

METADATA_INDEX_KEYS = ("customer_id", "application")


# A declared metadata key, one declared with a dimension beside it, and the two base sets.
ROLLUPS = Rollups(rollup_sets([("customer_id", ()), ("application", ("model",))]))
STORES = ["sqlite", "mongo-memory", "mongo-real"]


@pytest.fixture(params=STORES)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with opened(request, tmp_path, None) as found:
        yield found


@pytest.fixture(params=STORES)
async def rollup_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with opened(request, tmp_path, ROLLUPS) as found:
        yield found


@asynccontextmanager
async def opened(
    request: pytest.FixtureRequest, tmp_path: Path, rollups: Rollups | None
) -> AsyncIterator[Store]:
    """The adapter `request.param` names, open; closed (and its database dropped) after."""
    if request.param == "sqlite":
        sqlite = SqliteStore(tmp_path / "gateway.db", rollups=rollups)
        await sqlite.open()
        yield sqlite
        await sqlite.close()
    elif request.param == "mongo-memory":
        fake = MongoStore(
            "mongodb://in-memory",
            metadata_index_keys=METADATA_INDEX_KEYS,
            client=FakeMongoClient(),
            rollups=rollups,
        )
        await fake.open()
        yield fake
        await fake.close()
    else:
        uri = request.getfixturevalue("mongo_uri")
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri)
        database = f"gateway_test_{uuid.uuid4().hex[:12]}"
        real = MongoStore(
            uri,
            database=database,
            metadata_index_keys=METADATA_INDEX_KEYS,
            client=client,
            rollups=rollups,
        )
        try:
            await real.open()
            yield real
            await real.close()
        finally:
            await client.drop_database(database)
            await client.close()
