"""Rollup rows as MongoDB documents, added to with atomic `$inc` upserts.

A row is one document in `rollups` whose `_id` joins its key; counts, tokens and cost are
integer fields and each histogram a sub-document of bucket -> count, so that every instance
sharing the database adds to the same rows with `$inc` and nothing is read first.
`rollup_sets` holds each set's `since` (see Store.rollup_since).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, PyMongoError

from core.store.base import RollupRow
from core.usage import histogram
from core.usage.rollup import RollupKey
from core.usage.totals import Totals

if TYPE_CHECKING:
    from pymongo.asynchronous.collection import AsyncCollection

log = logging.getLogger(__name__)

WRITE_ATTEMPTS = 3
"""Tries at the upserts a server reports as failed (e.g. two instances racing to insert one
new row: one gets a duplicate key and succeeds as an update on the next try)."""

_COUNTS = ("requests", "errors", "input_tokens", "output_tokens", "total_tokens", "cost_nano")
_HISTOGRAMS = ("latency", "ttft", "overhead")


def upsert(key: RollupKey, totals: Totals) -> UpdateOne:
    """The `$inc` upsert that adds `totals` to the row of `key`."""
    set_id, span, start, dimensions = key
    inc: dict[str, int] = {name: getattr(totals, name) for name in _COUNTS}
    for name in _HISTOGRAMS:
        for bucket, count in histogram.to_map(getattr(totals, name)).items():
            inc[f"{name}.{bucket}"] = count
    return UpdateOne(
        {"_id": f"{set_id}|{span}|{start}|{dimensions}"},
        {
            "$setOnInsert": {
                "set_id": set_id,
                "span": span,
                "start": start,
                "dimensions": dimensions,
            },
            "$inc": inc,
        },
        upsert=True,
    )


NO_HISTOGRAMS = dict.fromkeys(_HISTOGRAMS, 0)
"""A projection leaving the histograms out, for reads that only add up counts."""


def piece_filter(set_id: str, span: int, start: int, end: int) -> dict[str, Any]:
    """The rows of a set and span whose bucket starts in [start, end) (the set_span_start
    index)."""
    return {"set_id": set_id, "span": span, "start": {"$gte": start, "$lt": end}}


def row_values(doc: Mapping[str, Any]) -> tuple[Any, ...]:
    """A document as the row `accumulate` adds up (histograms as {bucket: count} maps)."""
    return (
        doc["start"],
        doc["dimensions"],
        *(doc.get(name, 0) for name in _COUNTS),
        *(doc.get(name) for name in _HISTOGRAMS),
    )


def row(doc: Mapping[str, Any]) -> RollupRow:
    """The RollupRow of a stored document."""
    start, dimensions, *counts = row_values(doc)
    histograms = map(histogram.from_map, counts[len(_COUNTS) :])
    return RollupRow(start, dimensions, Totals(*counts[: len(_COUNTS)], *histograms))


async def add(collection: AsyncCollection[dict[str, Any]], rows: Mapping[RollupKey, Totals]) -> int:
    """Adds `rows` with `$inc` upserts; returns how many could not be added.

    Only upserts the server names as failed are tried again: the others were applied, and
    an `$inc` applied twice counts twice. On an error whose outcome is unknown (a connection
    lost mid-write; PyMongo has already retried what it safely can) nothing is retried. The
    caller's records are stored either way, so this logs instead of raising: a raise would
    have the batch replayed, and a replay adds nothing to the rollups."""
    ops = [upsert(key, totals) for key, totals in rows.items()]
    last: PyMongoError | None = None
    for _ in range(WRITE_ATTEMPTS):
        if not ops:
            return 0
        try:
            await collection.bulk_write(ops, ordered=False)
            return 0
        except BulkWriteError as error:
            last = error
            if error.details.get("writeConcernErrors"):
                break
            failed = {e["index"] for e in error.details.get("writeErrors", [])}
            ops = [op for i, op in enumerate(ops) if i in failed]
        except PyMongoError as error:
            last = error
            break
    log.error(
        "%d of %d rollup rows not added (metrics will undercount these calls): %s",
        len(ops),
        len(rows),
        last,
    )
    return len(ops)
