"""The `store` fixture: every contract test runs against each adapter.

- sqlite: a real file in tmp_path.
- mongo-memory: MongoStore over the in-memory stand-in (tests/fakes/mongo.py).
- mongo-real: MongoStore over a real server (the session's SecantusDB, or a mongod at
  GATEWAY_TEST_MONGODB_URI), a fresh database per test, dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from core.store.base import Store
from core.store.mongo import MongoStore
from core.store.sqlite import SqliteStore
from tests.fakes.mongo import FakeMongoClient

METADATA_INDEX_KEYS = ("customer_id", "application")


@pytest.fixture(params=["sqlite", "mongo-memory", "mongo-real"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        sqlite = SqliteStore(tmp_path / "gateway.db")
        await sqlite.open()
        yield sqlite
        await sqlite.close()
    elif request.param == "mongo-memory":
        fake = MongoStore(
            "mongodb://in-memory",
            metadata_index_keys=METADATA_INDEX_KEYS,
            client=FakeMongoClient(),
        )
        await fake.open()
        yield fake
        await fake.close()
    else:
        uri = request.getfixturevalue("mongo_uri")
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri)
        database = f"gateway_test_{uuid.uuid4().hex[:12]}"
        real = MongoStore(
            uri, database=database, metadata_index_keys=METADATA_INDEX_KEYS, client=client
        )
        try:
            await real.open()
            yield real
            await real.close()
        finally:
            await client.drop_database(database)
            await client.close()
