"""Rollup rows as MongoDB documents, added to with atomic `$inc` upserts.

A row is one document in `rollups` whose `_id` joins its key; counts, tokens and cost are
integer fields and each histogram a sub-document of bucket -> count, so that every instance
sharing the database adds to the same rows with `$inc` and nothing is read first.
`rollup_sets` holds each set's `since` (see Store.rollup_since).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo import UpdateOne

from core.store.base import RollupRow
from core.usage import histogram
from core.usage.rollup import RollupKey
from core.usage.totals import Totals

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
    return RollupRow(
        start=doc["start"],
        dimensions=doc["dimensions"],
        totals=Totals(
            requests=doc.get("requests", 0),
            errors=doc.get("errors", 0),
            input_tokens=doc.get("input_tokens", 0),
            output_tokens=doc.get("output_tokens", 0),
            total_tokens=doc.get("total_tokens", 0),
            cost_nano=doc.get("cost_nano", 0),
            latency=histogram.from_map(doc.get("latency")),
            ttft=histogram.from_map(doc.get("ttft")),
            overhead=histogram.from_map(doc.get("overhead")),
        ),
    )
