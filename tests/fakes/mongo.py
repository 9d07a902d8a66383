"""An in-memory stand-in for the part of PyMongo's asyncio API that MongoStore uses.

`FakeMongoClient()[database][collection]` offers insert_one / insert_many (a real
`BulkWriteError` with code 11000 per duplicate, like the server), find(...).sort().skip()
.limit() with async iteration and to_list, find_one, count_documents, replace_one,
update_one / update_many ($set), delete_one / delete_many, create_index (recorded; unique
indexes enforced). Filters support $eq $ne $lt $lte $gt $gte $in $nin $regex (+ $options)
$exists $and $or $nor, dotted paths, MongoDB's array semantics (a condition on an array
holds if any element satisfies it) and its null / missing rules.

Failure injection: set `client.fail_writes` (or `fail_reads`) to an exception, e.g.
`pymongo.errors.AutoReconnect("down")`; every write (read) raises it until set to None.
`client.bulk_failures` is a queue of (exception, how many leading upserts it fails): each
bulk_write takes one, applies the upserts after those, then raises.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError
from pymongo.results import DeleteResult, InsertManyResult, InsertOneResult, UpdateResult

Doc = dict[str, Any]
_MISSING = object()
_COMPARE = {
    "$lt": lambda c: c < 0,
    "$lte": lambda c: c <= 0,
    "$gt": lambda c: c > 0,
    "$gte": lambda c: c >= 0,
}


# --- values: MongoDB's type order and comparison ---------------------------------------
def _rank(value: Any) -> int:
    if value is None or value is _MISSING:
        return 1
    if isinstance(value, bool):
        return 8
    if isinstance(value, int | float):
        return 2
    if isinstance(value, str):
        return 3
    if isinstance(value, Mapping):
        return 4
    if isinstance(value, list | tuple):
        return 5
    if isinstance(value, bytes):
        return 6
    if isinstance(value, ObjectId):
        return 7
    return 9


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1 in MongoDB's order (null < numbers < strings < objects < arrays < ...)."""
    ra, rb = _rank(a), _rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == 1:
        return 0
    if ra == 4:
        return compare(list(a.items()), list(b.items()))
    if ra == 5:
        for x, y in zip(a, b, strict=False):
            if c := compare(x, y):
                return c
        return (len(a) > len(b)) - (len(a) < len(b))
    return int(a > b) - int(a < b)


def _equal(a: Any, b: Any) -> bool:
    return compare(a, b) == 0


# --- paths and filters ----------------------------------------------------------------
def _resolve(value: Any, parts: Sequence[str]) -> list[Any]:
    """The values at a dotted path; arrays along the way fan out. [] when missing."""
    if not parts:
        return [value]
    if isinstance(value, Mapping):
        return _resolve(value[parts[0]], parts[1:]) if parts[0] in value else []
    if isinstance(value, list):
        if parts[0].isdigit():
            index = int(parts[0])
            return _resolve(value[index], parts[1:]) if index < len(value) else []
        return [v for item in value for v in _resolve(item, parts)]
    return []


def _candidates(values: list[Any]) -> list[Any]:
    """What a scalar condition is tried on: each value, and each element of an array."""
    out: list[Any] = []
    for v in values:
        out.append(v)
        if isinstance(v, list):
            out.extend(v)
    return out or [_MISSING]


def _regex(cond: Mapping[str, Any]) -> re.Pattern[str]:
    flags = 0
    for option in cond.get("$options", ""):
        flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}[option]
    pattern = cond["$regex"]
    return pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, flags)


def _op_holds(op: str, arg: Any, cond: Mapping[str, Any], values: list[Any]) -> bool:
    candidates = _candidates(values)
    if op == "$eq":
        return any(_equal(c, arg) for c in candidates)
    if op == "$ne":
        return not _op_holds("$eq", arg, cond, values)
    if op == "$in":
        return any(_op_holds("$eq", a, cond, values) for a in arg)
    if op == "$nin":
        return not _op_holds("$in", arg, cond, values)
    if op in _COMPARE:
        # Type bracketing: only values of the argument's type are compared.
        return any(_rank(c) == _rank(arg) and _COMPARE[op](compare(c, arg)) for c in candidates)
    if op == "$exists":
        return bool(values) == bool(arg)
    if op == "$regex":
        pattern = _regex(cond)
        return any(isinstance(c, str) and pattern.search(c) is not None for c in candidates)
    if op == "$options":
        return True  # read with $regex
    if op == "$not":
        return not _condition_holds(arg, values)
    raise NotImplementedError(f"the fake does not support {op}")


def _condition_holds(cond: Any, values: list[Any]) -> bool:
    if isinstance(cond, Mapping) and cond and all(str(k).startswith("$") for k in cond):
        return all(_op_holds(op, arg, cond, values) for op, arg in cond.items())
    if isinstance(cond, re.Pattern):
        return _op_holds("$regex", cond, {"$regex": cond}, values)
    return _op_holds("$eq", cond, {}, values)


def matches(doc: Mapping[str, Any], flt: Mapping[str, Any] | None) -> bool:
    """Whether `doc` satisfies the filter document `flt`."""
    for key, cond in (flt or {}).items():
        if key == "$and":
            ok = all(matches(doc, sub) for sub in cond)
        elif key == "$or":
            ok = any(matches(doc, sub) for sub in cond)
        elif key == "$nor":
            ok = not any(matches(doc, sub) for sub in cond)
        elif key.startswith("$"):
            raise NotImplementedError(f"the fake does not support {key}")
        else:
            ok = _condition_holds(cond, _resolve(doc, key.split(".")))
        if not ok:
            return False
    return True


# --- sorting, projection, updates -----------------------------------------------------
def _sort_value(doc: Mapping[str, Any], path: str, descending: bool) -> Any:
    """An array sorts by its smallest element ascending, its largest descending, and an
    empty array before null; a missing field sorts as null."""
    values = _resolve(doc, path.split("."))
    flat = [x for v in values for x in (v if isinstance(v, list) else [v])]
    if not flat:
        return _EMPTY_ARRAY if values else None
    pick = max if descending else min
    return pick(flat, key=functools.cmp_to_key(compare))


class _EmptyArray:
    pass


_EMPTY_ARRAY = _EmptyArray()


class _SortKey:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _SortKey) -> bool:
        a, b = self.value, other.value
        if a is _EMPTY_ARRAY or b is _EMPTY_ARRAY:
            return a is _EMPTY_ARRAY and b is not _EMPTY_ARRAY
        return compare(a, b) < 0


def sort_documents(docs: list[Doc], spec: Sequence[tuple[str, int]]) -> list[Doc]:
    """Documents in `spec` order: successive stable sorts, last key first."""
    out = list(docs)
    for path, direction in reversed(spec):
        descending = direction == -1
        out.sort(key=functools.partial(_sort_key, path, descending), reverse=descending)
    return out


def _sort_key(path: str, descending: bool, doc: Doc) -> _SortKey:
    return _SortKey(_sort_value(doc, path, descending))


def _project(doc: Doc, projection: Mapping[str, Any] | None) -> Doc:
    if not projection:
        return copy.deepcopy(doc)
    include = {k for k, v in projection.items() if v}
    if include:
        out = {k: copy.deepcopy(v) for k, v in doc.items() if k in include}
        if projection.get("_id", 1) and "_id" in doc:
            out["_id"] = doc["_id"]
        return out
    return {k: copy.deepcopy(v) for k, v in doc.items() if k not in projection}


def _apply_update(doc: Doc, update: Mapping[str, Any], *, inserting: bool = False) -> Doc:
    new = copy.deepcopy(doc)
    for op, fields in update.items():
        if op not in ("$set", "$inc", "$setOnInsert"):
            raise NotImplementedError(f"the fake does not support {op}")
        if op == "$setOnInsert" and not inserting:
            continue
        for path, value in fields.items():
            target = new
            *parents, last = path.split(".")
            for part in parents:
                target = target.setdefault(part, {})
            if op == "$inc":
                target[last] = target.get(last, 0) + value
            else:
                target[last] = copy.deepcopy(value)
    return new


def _normalise_keys(keys: Any, direction: int | None = None) -> list[tuple[str, int]]:
    if isinstance(keys, str):
        return [(keys, direction or 1)]
    if isinstance(keys, Mapping):
        return list(keys.items())
    return [(k, d) for k, d in keys]


# --- the client, database, collection and cursor ---------------------------------------
class FakeMongoClient:
    """`client[name]` is a database; `fail_writes` / `fail_reads` inject failures."""

    def __init__(self) -> None:
        self._databases: dict[str, FakeDatabase] = {}
        self.fail_writes: BaseException | None = None
        self.fail_reads: BaseException | None = None
        self.bulk_failures: list[tuple[BaseException, int]] = []
        self.closed = False

    def __getitem__(self, name: str) -> FakeDatabase:
        return self.get_database(name)

    def get_database(self, name: str) -> FakeDatabase:
        return self._databases.setdefault(name, FakeDatabase(self, name))

    async def drop_database(self, name: str) -> None:
        self._check_write()
        self._databases.pop(name, None)

    async def close(self) -> None:
        self.closed = True

    def _check_write(self) -> None:
        if self.fail_writes is not None:
            raise self.fail_writes

    def _check_read(self) -> None:
        if self.fail_reads is not None:
            raise self.fail_reads


class FakeDatabase:
    def __init__(self, client: FakeMongoClient, name: str) -> None:
        self.client = client
        self.name = name
        self._collections: dict[str, FakeCollection] = {}

    def __getitem__(self, name: str) -> FakeCollection:
        return self.get_collection(name)

    def get_collection(self, name: str) -> FakeCollection:
        return self._collections.setdefault(name, FakeCollection(self.client, name))

    async def list_collection_names(self) -> list[str]:
        self.client._check_read()
        return list(self._collections)


class FakeCollection:
    def __init__(self, client: FakeMongoClient, name: str) -> None:
        self._client = client
        self.name = name
        self.documents: dict[Any, Doc] = {}  # by _id, in insertion order
        # name -> (keys, unique); `_id_` always exists and is unique.
        self.indexes: dict[str, tuple[list[tuple[str, int]], bool]] = {"_id_": ([("_id", 1)], True)}

    # --- indexes
    async def create_index(
        self, keys: Any, *, unique: bool = False, name: str | None = None, **_: Any
    ) -> str:
        self._client._check_write()
        spec = _normalise_keys(keys)
        name = name or "_".join(f"{k}_{d}" for k, d in spec)
        if unique:
            for doc in self.documents.values():
                if self._conflict(doc, spec, ignore_id=doc["_id"]) is not None:
                    raise DuplicateKeyError(f"E11000 duplicate key error index: {name}", 11000)
        self.indexes[name] = (spec, unique)
        return name

    def _index_value(self, doc: Mapping[str, Any], spec: list[tuple[str, int]]) -> list[Any]:
        return [(_resolve(doc, path.split(".")) or [None])[0] for path, _ in spec]

    def _conflict(self, doc: Doc, spec: list[tuple[str, int]], ignore_id: Any) -> Doc | None:
        """The key value `doc` shares with another document under `spec`, if any."""
        value = self._index_value(doc, spec)
        if spec == [("_id", 1)]:  # the primary index: a dict look-up, not a scan
            taken = doc["_id"] in self.documents and doc["_id"] != ignore_id
            return {"_id": doc["_id"]} if taken else None
        for other in self.documents.values():
            other_value = self._index_value(other, spec)
            if other["_id"] != ignore_id and all(map(_equal, value, other_value)):
                return {path: v for (path, _), v in zip(spec, value, strict=True)}
        return None

    def _duplicate(self, doc: Doc, ignore_id: Any = _MISSING) -> tuple[str, Doc] | None:
        """The unique index `doc` would violate, with its key value; None when it fits."""
        for name, (spec, unique) in self.indexes.items():
            if unique and (key_value := self._conflict(doc, spec, ignore_id)) is not None:
                return name, key_value
        return None

    @staticmethod
    def _duplicate_message(collection: str, name: str, key_value: Doc) -> str:
        return f"E11000 duplicate key error collection: {collection} index: {name} dup key: {key_value}"

    def _store(self, doc: Doc) -> Doc:
        doc = copy.deepcopy(doc)
        doc.setdefault("_id", ObjectId())
        return doc

    # --- writes
    async def insert_one(self, document: Doc) -> InsertOneResult:
        self._client._check_write()
        document.setdefault("_id", ObjectId())
        doc = self._store(document)
        if dup := self._duplicate(doc):
            raise DuplicateKeyError(
                self._duplicate_message(self.name, *dup), 11000, {"keyValue": dup[1]}
            )
        self.documents[doc["_id"]] = doc
        return InsertOneResult(doc["_id"], True)

    async def insert_many(
        self, documents: Iterable[Doc], ordered: bool = True, **_: Any
    ) -> InsertManyResult:
        self._client._check_write()
        docs = list(documents)
        inserted: list[Any] = []
        errors: list[Doc] = []
        for index, document in enumerate(docs):
            document.setdefault("_id", ObjectId())
            doc = self._store(document)
            if dup := self._duplicate(doc):
                name, key_value = dup
                errors.append(
                    {
                        "index": index,
                        "code": 11000,
                        "errmsg": self._duplicate_message(self.name, name, key_value),
                        "keyPattern": dict(self.indexes[name][0]),
                        "keyValue": key_value,
                        "op": document,
                    }
                )
                if ordered:
                    break
                continue
            self.documents[doc["_id"]] = doc
            inserted.append(doc["_id"])
        if errors:
            raise BulkWriteError(
                {
                    "writeErrors": errors,
                    "writeConcernErrors": [],
                    "nInserted": len(inserted),
                    "nUpserted": 0,
                    "nMatched": 0,
                    "nModified": 0,
                    "nRemoved": 0,
                    "upserted": [],
                }
            )
        return InsertManyResult(inserted, True)

    async def replace_one(self, filter: Doc, replacement: Doc, **_: Any) -> UpdateResult:
        self._client._check_write()
        return self._update(
            filter, lambda old: {**copy.deepcopy(replacement), "_id": old["_id"]}, many=False
        )

    async def update_one(
        self, filter: Doc, update: Doc, upsert: bool = False, **_: Any
    ) -> UpdateResult:
        self._client._check_write()
        return self._upsert(filter, update, upsert=upsert)

    def _upsert(self, flt: Doc, update: Doc, *, upsert: bool) -> UpdateResult:
        result = self._update(flt, lambda old: _apply_update(old, update), many=False)
        if result.matched_count or not upsert:
            return result
        seed = {k: v for k, v in flt.items() if not k.startswith("$")}
        doc = _apply_update(seed, update, inserting=True)
        doc.setdefault("_id", ObjectId())
        self.documents[doc["_id"]] = doc
        return UpdateResult({"n": 1, "nModified": 0, "upserted": doc["_id"], "ok": 1.0}, True)

    async def update_many(self, filter: Doc, update: Doc, **_: Any) -> UpdateResult:
        self._client._check_write()
        return self._update(filter, lambda old: _apply_update(old, update), many=True)

    def _update(self, flt: Doc, change: Callable[[Doc], Doc], *, many: bool) -> UpdateResult:
        """Without upsert: the stores never insert through an update."""
        targets = [d for d in self.documents.values() if matches(d, flt)]
        if not many:
            targets = targets[:1]
        modified = 0
        for old in targets:
            new = change(old)
            if dup := self._duplicate(new, ignore_id=old["_id"]):
                raise DuplicateKeyError(self._duplicate_message(self.name, *dup), 11000)
            modified += new != old
            self.documents[old["_id"]] = new
        return UpdateResult({"n": len(targets), "nModified": modified, "ok": 1.0}, True)

    async def bulk_write(self, requests: Sequence[UpdateOne], ordered: bool = True) -> None:
        """UpdateOne upserts only (what the stores send), each applied atomically."""
        self._client._check_write()
        error, failing = (
            self._client.bulk_failures.pop(0) if self._client.bulk_failures else (None, 0)
        )
        for op in requests[failing:]:
            self._upsert(op._filter, op._doc, upsert=op._upsert)
        if error is not None:
            raise error

    async def delete_one(self, filter: Doc, **_: Any) -> DeleteResult:
        self._client._check_write()
        return self._delete(filter, many=False)

    async def delete_many(self, filter: Doc, **_: Any) -> DeleteResult:
        self._client._check_write()
        return self._delete(filter, many=True)

    def _delete(self, flt: Doc, *, many: bool) -> DeleteResult:
        doomed = [key for key, d in self.documents.items() if matches(d, flt)]
        if not many:
            doomed = doomed[:1]
        for key in doomed:
            del self.documents[key]
        return DeleteResult({"n": len(doomed), "ok": 1.0}, True)

    async def drop(self) -> None:
        self._client._check_write()
        self.documents.clear()

    # --- reads
    def find(
        self, filter: Doc | None = None, projection: Mapping[str, Any] | None = None, **_: Any
    ) -> FakeCursor:
        return FakeCursor(self, filter or {}, projection)

    async def find_one(
        self,
        filter: Doc | None = None,
        projection: Mapping[str, Any] | None = None,
        sort: Sequence[tuple[str, int]] | None = None,
        **_: Any,
    ) -> Doc | None:
        cursor = self.find(filter, projection)
        if sort:
            cursor = cursor.sort(list(sort))
        found = await cursor.limit(1).to_list()
        return found[0] if found else None

    async def count_documents(self, filter: Doc, **_: Any) -> int:
        self._client._check_read()
        return sum(1 for d in self.documents.values() if matches(d, filter))


class FakeCursor:
    """find()'s result: sort / skip / limit chain, then `async for` or `to_list()`."""

    def __init__(
        self, collection: FakeCollection, flt: Doc, projection: Mapping[str, Any] | None
    ) -> None:
        self._collection = collection
        self._filter = flt
        self._projection = projection
        self._sort: list[tuple[str, int]] = []
        self._skip = 0
        self._limit = 0

    def sort(self, key_or_list: Any, direction: int | None = None) -> FakeCursor:
        self._sort = _normalise_keys(key_or_list, direction)
        return self

    def skip(self, count: int) -> FakeCursor:
        self._skip = count
        return self

    def limit(self, count: int) -> FakeCursor:
        self._limit = count  # 0: no limit, as in MongoDB
        return self

    def _run(self) -> list[Doc]:
        self._collection._client._check_read()
        found = [d for d in self._collection.documents.values() if matches(d, self._filter)]
        found = sort_documents(found, self._sort)[self._skip :]
        if self._limit:
            found = found[: abs(self._limit)]
        return [_project(d, self._projection) for d in found]

    async def to_list(self, length: int | None = None) -> list[Doc]:
        found = self._run()
        return found if length is None else found[:length]

    async def __aiter__(self) -> AsyncIterator[Doc]:
        for doc in self._run():
            yield doc
