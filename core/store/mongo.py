"""The shared store: MongoDB through PyMongo's asyncio API, for several gateway instances.

Log records are documents whose `_id` is the record id, so replaying a batch only hits
duplicate-key errors, which count as success. Query semantics are those of sqlite_query.py,
translated by mongo_query.py. A client can be injected (tests pass an in-memory stand-in);
the store closes only a client it created.

An unreachable server holds nothing for long: see mongo_client.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from core.store import mongo_rollups
from core.store.base import (
    ApiKeyRecord,
    LogPage,
    LogQuery,
    LogRecord,
    LogScope,
    MetricsReader,
    RollupRow,
    StoredResponseRecord,
    id_prefix_bounds,
)
from core.store.documents import key_document, key_record, log_document, log_record
from core.store.mongo_client import client_options, close_client
from core.store.mongo_query import query_filter, scope_document, sort_spec
from core.usage import histogram
from core.usage.accumulate import Bucket, Classify, Grouped, accumulate, finish
from core.usage.rollup import FOLDED_ALWAYS, SPANS, Rollups, since_for_new_set

MongoCollection = AsyncCollection[dict[str, Any]]
DUPLICATE_KEY = 11000
ASCENDING, DESCENDING = 1, -1

# (name, keys) of the log indexes; the metadata ones are added per configured key.
LOG_INDEXES: tuple[tuple[str, list[tuple[str, int]]], ...] = (
    ("created_at", [("created_at", DESCENDING)]),
    ("subject_created_at", [("subject", ASCENDING), ("created_at", DESCENDING)]),
    ("model_created_at", [("model", ASCENDING), ("created_at", DESCENDING)]),
    ("resolved_model_created_at", [("resolved_model", ASCENDING), ("created_at", DESCENDING)]),
    ("status_created_at", [("status", ASCENDING), ("created_at", DESCENDING)]),
    # Scoped queries (team admins) match on teams.
    ("teams_created_at", [("teams", ASCENDING), ("created_at", DESCENDING)]),
)


def only_duplicates(error: BulkWriteError) -> bool:
    """True when every failure of a bulk insert is a duplicate key: a replayed record."""
    details = error.details
    write_errors = details.get("writeErrors", [])
    return (
        bool(write_errors)
        and not details.get("writeConcernErrors")
        and all(e.get("code") == DUPLICATE_KEY for e in write_errors)
    )


def _merge_maps(maps: list[Any]) -> histogram.Hist:
    return histogram.merge_all(map(histogram.from_map, maps))


class MongoStore:
    """`Store` over MongoDB; `open()` connects and creates the indexes."""

    def __init__(
        self,
        uri: str,
        *,
        database: str = "llm_gateway",
        metadata_index_keys: Sequence[str] = (),
        client: Any = None,
        rollups: Rollups | None = None,
        server_selection_timeout: float | None = None,
    ) -> None:
        self._uri = uri
        self._server_selection_timeout = server_selection_timeout
        self._database = database
        self._metadata_index_keys = tuple(metadata_index_keys)
        self._client: AsyncMongoClient[dict[str, Any]] | None = client
        self._owns_client = client is None
        self._rollups = rollups
        self._since: dict[str, int] = {}
        self._collections: tuple[MongoCollection, ...] | None = None

    @property
    def _logs(self) -> MongoCollection:
        return self._opened()[0]

    @property
    def _keys(self) -> MongoCollection:
        return self._opened()[1]

    @property
    def _rollup_rows(self) -> MongoCollection:
        return self._opened()[2]

    @property
    def _rollup_sets(self) -> MongoCollection:
        return self._opened()[3]

    @property
    def _responses(self) -> MongoCollection:
        return self._opened()[4]

    def _opened(self) -> tuple[MongoCollection, ...]:
        if self._collections is None:
            raise RuntimeError("MongoStore is not open")
        return self._collections

    async def open(self) -> None:
        if self._client is None:
            options = client_options(self._uri, self._server_selection_timeout)
            self._client = AsyncMongoClient[dict[str, Any]](self._uri, **options)
        db = self._client[self._database]
        self._collections = (
            db["logs"],
            db["api_keys"],
            db["rollups"],
            db["rollup_sets"],
            db["responses"],
        )
        await self._responses.create_index([("created_at", ASCENDING)], name="created_at")
        await self._keys.create_index([("digest", ASCENDING)], unique=True, name="digest")
        await self._keys.create_index(
            [("subject", ASCENDING), ("created_at", DESCENDING)], name="subject_created_at"
        )
        for name, keys in LOG_INDEXES:
            await self._logs.create_index(keys, name=name)
        for key in self._metadata_index_keys:
            await self._logs.create_index(
                [(f"metadata.{key}", ASCENDING), ("created_at", DESCENDING)],
                name=f"metadata.{key}_created_at",
            )
        await self._rollup_rows.create_index(
            [("set_id", ASCENDING), ("span", ASCENDING), ("start", ASCENDING)],
            name="set_span_start",
        )
        if self._rollups is not None:
            self._since = await self._register([s.id for s in self._rollups.sets])

    async def _register(self, set_ids: list[str]) -> dict[str, int]:
        """Drops sets no longer configured, registers new ones; returns each set's since."""
        known = {doc["_id"]: doc["since"] async for doc in self._rollup_sets.find({})}
        dropped = [s for s in known if s not in set_ids]
        if dropped:
            await self._rollup_rows.delete_many({"set_id": {"$in": dropped}})
            await self._rollup_sets.delete_many({"_id": {"$in": dropped}})
        new = [s for s in set_ids if s not in known]
        if new:
            newest = await self._logs.find_one({}, {"created_at": 1}, sort=[("created_at", -1)])
            since = since_for_new_set(
                None if newest is None else newest["created_at"], time.time_ns() // 1_000_000
            )
            for set_id in new:
                # Another instance may register the same set at once: the first one wins.
                await self._rollup_sets.update_one(
                    {"_id": set_id}, {"$setOnInsert": {"since": since}}, upsert=True
                )
            known = {doc["_id"]: doc["since"] async for doc in self._rollup_sets.find({})}
        return {s: known[s] for s in set_ids}

    async def close(self) -> None:
        self._collections = None
        if self._client is not None and self._owns_client:
            await close_client(self._client)
            self._client = None

    # --- API keys
    async def insert_key(self, key: ApiKeyRecord) -> None:
        await self._keys.insert_one(key_document(key))

    async def find_key_by_digest(self, digest: str) -> ApiKeyRecord | None:
        doc = await self._keys.find_one({"digest": digest})
        return None if doc is None else key_record(doc)

    async def get_key(self, key_id: str) -> ApiKeyRecord | None:
        doc = await self._keys.find_one({"_id": key_id})
        return None if doc is None else key_record(doc)

    async def list_keys(
        self, *, subject: str | None = None, include_revoked: bool = False
    ) -> list[ApiKeyRecord]:
        flt: dict[str, Any] = {}
        if subject is not None:
            flt["subject"] = subject
        if not include_revoked:
            flt["revoked_at"] = None  # null or missing
        cursor = self._keys.find(flt).sort([("created_at", DESCENDING), ("_id", DESCENDING)])
        return [key_record(doc) async for doc in cursor]

    async def update_key(self, key: ApiKeyRecord) -> None:
        await self._keys.replace_one({"_id": key.id}, key_document(key))

    async def touch_keys(self, last_used: Mapping[str, int]) -> None:
        await asyncio.gather(
            *(
                self._keys.update_one({"_id": key_id}, {"$set": {"last_used_at": at}})
                for key_id, at in last_used.items()
            )
        )

    # --- request logs
    async def insert_logs(self, records: Sequence[LogRecord]) -> None:
        if not records:
            return
        try:
            await self._logs.insert_many([log_document(r) for r in records], ordered=False)
            new = list(records)
        except BulkWriteError as error:
            if not only_duplicates(error):
                raise
            replayed = {e["index"] for e in error.details["writeErrors"]}
            new = [r for i, r in enumerate(records) if i not in replayed]
        if self._rollups is not None and new:
            # Without a transaction: a crash right here leaves these records out of the rollups
            # (their replay is a duplicate); the records themselves are stored.
            await mongo_rollups.add(self._rollup_rows, self._rollups.aggregate(new))

    async def query_logs(self, query: LogQuery) -> LogPage:
        flt = query_filter(query)
        if query.limit <= 0:  # MongoDB reads limit 0 as "no limit"
            return LogPage(records=[], total=await self._logs.count_documents(flt))
        cursor = (
            self._logs.find(flt).sort(sort_spec(query.sort)).skip(query.offset).limit(query.limit)
        )
        docs, total = await asyncio.gather(cursor.to_list(), self._logs.count_documents(flt))
        return LogPage(records=[log_record(doc) for doc in docs], total=total)

    # --- stored responses
    async def insert_response(self, response: StoredResponseRecord) -> bool:
        document = {
            "_id": response.id,
            "key_id": response.key_id,
            "created_at": response.created_at,
            "body": response.body,
        }
        try:
            await self._responses.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def get_response(self, response_id: str) -> StoredResponseRecord | None:
        doc = await self._responses.find_one({"_id": response_id})
        if doc is None:
            return None
        return StoredResponseRecord(
            id=doc["_id"], key_id=doc["key_id"], created_at=doc["created_at"], body=doc["body"]
        )

    async def delete_response(self, response_id: str) -> bool:
        result = await self._responses.delete_one({"_id": response_id})
        return int(result.deleted_count) == 1

    async def delete_responses_before(self, created_before: int, *, batch_size: int) -> int:
        if batch_size <= 0:
            return 0
        cursor = (
            self._responses.find({"created_at": {"$lt": created_before}}, {"_id": 1})
            .sort([("created_at", ASCENDING)])
            .limit(batch_size)
        )
        ids = [doc["_id"] async for doc in cursor]
        if not ids:
            return 0
        result = await self._responses.delete_many({"_id": {"$in": ids}})
        return int(result.deleted_count)

    async def get_log(self, log_id: str, scope: LogScope | None = None) -> LogRecord | None:
        flt: dict[str, Any] = {"_id": log_id}
        if scope is not None:
            flt = {"$and": [flt, scope_document(scope)]}
        doc = await self._logs.find_one(flt)
        return None if doc is None else log_record(doc)

    async def newest_log_with_id_prefix(
        self, prefix: str, scope: LogScope | None = None
    ) -> LogRecord | None:
        low, high = id_prefix_bounds(prefix)
        flt: dict[str, Any] = {"_id": {"$gte": low, "$lt": high}}
        if scope is not None:
            flt = {"$and": [flt, scope_document(scope)]}
        cursor = self._logs.find(flt).sort([("created_at", DESCENDING), ("_id", DESCENDING)])
        async for doc in cursor.limit(1):
            return log_record(doc)
        return None

    async def delete_logs_before(self, created_before: int, *, batch_size: int) -> int:
        if batch_size <= 0:
            return 0
        # Only the ids of one batch, oldest first, are read.
        cursor = (
            self._logs.find({"created_at": {"$lt": created_before}}, {"_id": 1})
            .sort([("created_at", ASCENDING), ("_id", ASCENDING)])
            .limit(batch_size)
        )
        ids = [doc["_id"] async for doc in cursor]
        deleted = 0
        if ids:
            result = await self._logs.delete_many({"_id": {"$in": ids}})
            deleted = int(result.deleted_count)
        if deleted < batch_size:  # the last round: no record older than the cutoff is left
            # Per set and span, so that each clause is a range of the set_span_start index.
            set_ids = [doc["_id"] async for doc in self._rollup_sets.find({}, {"_id": 1})]
            if set_ids:
                await self._rollup_rows.delete_many(
                    {
                        "$or": [
                            {"set_id": s, "span": span, "start": {"$lte": created_before - span}}
                            for s in set_ids
                            for span in SPANS
                        ]
                    }
                )
        return deleted

    async def scan_logs(self, query: LogQuery) -> list[LogRecord]:
        projection = {"request_body": 0, "response_body": 0}
        return [log_record(doc) async for doc in self._logs.find(query_filter(query), projection)]

    @asynccontextmanager
    async def metrics_snapshot(self) -> AsyncIterator[MetricsReader]:
        # No snapshot across queries without a replica set's snapshot reads: each read is its
        # own (core/usage/engine.py keeps a grouped query's rows and totals consistent).
        yield self

    # --- rollups
    async def rollup_since(self) -> Mapping[str, int]:
        return self._since

    async def rollups_folded_until(self) -> int:
        return FOLDED_ALWAYS  # every span is added to at ingest

    async def count_rollups(
        self, set_id: str, pieces: Sequence[tuple[int, int, int]]
    ) -> dict[str, int]:
        out: dict[str, int] = {}
        for span, start, end in pieces:
            cursor = self._rollup_rows.find(
                mongo_rollups.piece_filter(set_id, span, start, end),
                {"dimensions": 1, "requests": 1},
            )
            async for doc in cursor:
                text = doc["dimensions"]
                out[text] = out.get(text, 0) + doc.get("requests", 0)
        return out

    async def aggregate_rollups(
        self,
        set_id: str,
        pieces: Sequence[tuple[int, int, int]],
        classify: Classify,
        bucket: Bucket,
        *,
        histograms: bool = True,
        dimensions: Collection[str] | None = None,
    ) -> Grouped:
        into: dict[tuple[int, int | None], list[Any]] = {}
        projection = None if histograms else mongo_rollups.NO_HISTOGRAMS
        for span, start, end in pieces:
            flt = mongo_rollups.piece_filter(set_id, span, start, end)
            if dimensions is not None:
                flt["dimensions"] = {"$in": list(dimensions)}
            cursor = self._rollup_rows.find(flt, projection)
            rows = [mongo_rollups.row_values(doc) async for doc in cursor]
            accumulate(rows, classify, bucket, histograms, into)
        return finish(into, _merge_maps if histograms else None)

    async def read_rollups(self, set_id: str, span: int, start: int, end: int) -> list[RollupRow]:
        cursor = self._rollup_rows.find(mongo_rollups.piece_filter(set_id, span, start, end))
        return [mongo_rollups.row(doc) async for doc in cursor]
