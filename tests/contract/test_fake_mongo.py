"""The in-memory MongoDB stand-in behaves like the server where the stores rely on it."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    DuplicateKeyError,
    ServerSelectionTimeoutError,
)

from core.store.base import LogFilter, LogQuery
from core.store.mongo import MongoStore
from tests.contract.records import make_log
from tests.fakes.mongo import FakeCollection, FakeMongoClient, matches, sort_documents


@pytest.fixture
def collection() -> FakeCollection:
    return FakeMongoClient()["db"]["things"]


async def test_insert_many_unordered_reports_each_duplicate_like_the_server(
    collection: FakeCollection,
) -> None:
    await collection.insert_many([{"_id": "a"}, {"_id": "b"}])
    with pytest.raises(BulkWriteError) as caught:
        await collection.insert_many(
            [{"_id": "a", "v": 2}, {"_id": "c"}, {"_id": "c"}], ordered=False
        )
    details = caught.value.details
    assert [(e["index"], e["code"]) for e in details["writeErrors"]] == [(0, 11000), (2, 11000)]
    assert details["nInserted"] == 1
    assert details["writeErrors"][0]["keyValue"] == {"_id": "a"}
    assert "E11000 duplicate key error" in details["writeErrors"][0]["errmsg"]
    assert sorted(collection.documents) == ["a", "b", "c"]
    assert collection.documents["a"] == {"_id": "a"}  # the first write wins


async def test_ordered_insert_many_stops_at_the_first_duplicate(collection: FakeCollection) -> None:
    await collection.insert_one({"_id": "a"})
    with pytest.raises(BulkWriteError):
        await collection.insert_many([{"_id": "b"}, {"_id": "a"}, {"_id": "c"}])
    assert sorted(collection.documents) == ["a", "b"]


async def test_unique_indexes_are_enforced(collection: FakeCollection) -> None:
    await collection.create_index([("digest", 1)], unique=True, name="digest")
    await collection.create_index([("subject", 1)])  # not unique: recorded only
    await collection.insert_one({"_id": 1, "digest": "d", "subject": "s"})
    await collection.insert_one({"_id": 2, "digest": "e", "subject": "s"})
    with pytest.raises(DuplicateKeyError) as caught:
        await collection.insert_one({"_id": 3, "digest": "d"})
    assert caught.value.code == 11000
    with pytest.raises(DuplicateKeyError):
        await collection.update_one({"_id": 2}, {"$set": {"digest": "d"}})
    assert set(collection.indexes) == {"_id_", "digest", "subject_1"}


async def test_failure_injection_until_cleared() -> None:
    client = FakeMongoClient()
    store = MongoStore("mongodb://in-memory", client=client)
    await store.open()
    client.fail_writes = AutoReconnect("connection reset")
    with pytest.raises(AutoReconnect):
        await store.insert_logs([make_log("a")])
    with pytest.raises(AutoReconnect):
        await store.insert_logs([make_log("a")])
    assert (await store.query_logs(LogQuery())).total == 0  # reads still work
    client.fail_writes = None
    await store.insert_logs([make_log("a")])
    client.fail_reads = ServerSelectionTimeoutError("no servers")
    with pytest.raises(ServerSelectionTimeoutError):
        await store.query_logs(LogQuery(filters=(LogFilter("id", "EQ", "a"),)))
    with pytest.raises(ServerSelectionTimeoutError):
        await store.get_log("a")
    client.fail_reads = None
    assert await store.get_log("a") == make_log("a")
    await store.close()
    assert not client.closed  # an injected client belongs to the caller


DOCS: list[dict[str, Any]] = [
    {"_id": 1, "tags": ["a", "b"], "n": 5, "m": {"k": "v"}, "x": None},
    {"_id": 2, "tags": [], "n": 5.0, "m": {}},
    {"_id": 3, "tags": ["c"], "n": "5", "m": {"k": "w"}, "b": True},
    {"_id": 4, "n": 1, "b": 1},
]


@pytest.mark.parametrize(
    ("flt", "ids"),
    [
        ({"tags": "a"}, [1]),  # an array matches when an element does
        ({"tags": ["a", "b"]}, [1]),  # or when it equals the whole value
        ({"tags": {"$ne": "a"}}, [2, 3, 4]),
        ({"tags": {"$nin": ["a", "c"]}}, [2, 4]),
        ({"tags": {"$gt": "a"}}, [1, 3]),
        ({"n": 5}, [1, 2]),  # 5 == 5.0, never "5"
        ({"n": {"$gte": 2}}, [1, 2]),  # type bracketing: strings are not compared to numbers
        ({"n": {"$lt": "6"}}, [3]),
        ({"b": True}, [3]),  # true is not 1
        ({"x": None}, [1, 2, 3, 4]),  # null matches null and missing
        ({"x": {"$ne": None}}, []),
        ({"x": {"$exists": True}}, [1]),
        ({"m.k": {"$ne": "v"}}, [2, 3, 4]),  # $ne matches a missing field
        ({"m.k": {"$in": ["v", "w"]}}, [1, 3]),
        ({"m.k": {"$lt": "z"}}, [1, 3]),  # comparisons never match missing
        ({"m.k": {"$regex": "V", "$options": "i"}}, [1]),
        ({"$or": [{"_id": 1}, {"b": 1}], "n": {"$lt": 3}}, [4]),
        ({"$and": [{"n": 5}, {"tags": {"$exists": True}}]}, [1, 2]),
    ],
    ids=str,
)
def test_filter_semantics(flt: dict[str, Any], ids: list[int]) -> None:
    assert [d["_id"] for d in DOCS if matches(d, flt)] == ids


def test_sort_like_the_server() -> None:
    docs: list[dict[str, Any]] = [
        {"_id": 1, "t": ["b", "d"]},
        {"_id": 2, "t": []},
        {"_id": 3, "t": ["c"]},
        {"_id": 4},
        {"_id": 5, "t": "a"},
    ]
    ascending = sort_documents(docs, [("t", 1), ("_id", 1)])
    # An empty array, then null / missing, then smallest elements.
    assert [d["_id"] for d in ascending] == [2, 4, 5, 1, 3]
    descending = sort_documents(docs, [("t", -1), ("_id", -1)])
    # Largest elements: d, c, a; then missing; an empty array last.
    assert [d["_id"] for d in descending] == [1, 3, 5, 4, 2]


async def test_cursor_sort_skip_limit_projection(collection: FakeCollection) -> None:
    await collection.insert_many([{"_id": i, "n": i % 3, "s": str(i)} for i in range(6)])
    cursor = (
        collection.find({"n": {"$gte": 1}}, {"_id": 1})
        .sort([("n", -1), ("_id", 1)])
        .skip(1)
        .limit(2)
    )
    assert [d async for d in cursor] == [{"_id": 5}, {"_id": 1}]
    assert await collection.count_documents({"n": 0}) == 2
    assert await collection.find_one({"s": "4"}) == {"_id": 4, "n": 1, "s": "4"}
    result = await collection.delete_many({"n": {"$in": [0, 2]}})
    assert result.deleted_count == 4
    updated = await collection.update_many({}, {"$set": {"m.k": "v"}})
    assert updated.matched_count == 2
    assert await collection.find({}).sort("_id", 1).to_list() == [
        {"_id": 1, "n": 1, "s": "1", "m": {"k": "v"}},
        {"_id": 4, "n": 1, "s": "4", "m": {"k": "v"}},
    ]


async def test_documents_are_copied_in_and_out(collection: FakeCollection) -> None:
    doc: dict[str, Any] = {"_id": 1, "tags": ["a"]}
    await collection.insert_one(doc)
    doc["tags"].append("mutated")
    found = await collection.find_one({"_id": 1})
    assert found == {"_id": 1, "tags": ["a"]}
    found["tags"].append("mutated")
    assert collection.documents[1] == {"_id": 1, "tags": ["a"]}
