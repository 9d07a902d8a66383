"""Adding up rollup rows into groups and time buckets: the read side's hot loop.

Stores run it where the rows are (SQLite: on its read thread, as it steps through the
rows) so that no object is built per row: a row's group comes from its dimension text
(classified once per distinct text), its bucket from its start, and its counters add into
a plain list; histograms are decoded and merged once per group and bucket, at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from core.usage.histogram import Hist
from core.usage.totals import Totals

Classify = Callable[[str], int | None]
"""A row's dimension text -> its group id, or None when the query does not see the row."""
Bucket = Callable[[int], int | None]
"""A row's start -> the start of the query's time bucket holding it (None: no buckets)."""
Grouped = dict[tuple[int, int | None], Totals]
"""(group id, bucket start) -> totals."""
MergeStored = Callable[[list[Any]], Hist]
"""The histogram of a list of stored ones, as a store keeps them."""

_UNSEEN = -1


def accumulate(
    rows: Iterable[tuple[Any, ...]],
    classify: Classify,
    bucket: Bucket,
    histograms: bool,
    into: dict[tuple[int, int | None], list[Any]],
) -> None:
    """Adds rows (start, dimensions, requests, errors, input, output, total tokens, cost
    in nano-dollars[, latency, ttft, overhead]) to `into`; without `histograms` the rows
    carry none. `finish` turns `into` into totals."""
    groups: dict[str, int | None] = {}
    for row in rows:
        dimensions = row[1]
        group = groups.get(dimensions, _UNSEEN)
        if group == _UNSEEN:
            group = groups[dimensions] = classify(dimensions)
        if group is None:
            continue
        key = (group, bucket(row[0]))
        found = into.get(key)
        if found is None:
            into[key] = [*row[2:8], [row[8]], [row[9]], [row[10]]] if histograms else [*row[2:8]]
            continue
        found[0] += row[2]
        found[1] += row[3]
        found[2] += row[4]
        found[3] += row[5]
        found[4] += row[6]
        found[5] += row[7]
        if histograms:
            found[6].append(row[8])
            found[7].append(row[9])
            found[8].append(row[10])


def finish(into: Mapping[tuple[int, int | None], list[Any]], merge: MergeStored | None) -> Grouped:
    """The totals of what `accumulate` added up (`merge`: None when it had no histograms)."""
    out: Grouped = {}
    for key, (requests, errors, tin, tout, total, cost, *histograms) in into.items():
        totals = Totals(requests, errors, tin, tout, total, cost)
        if merge is not None:
            latency, ttft, overhead = histograms
            totals.latency = merge(latency)
            totals.ttft = merge(ttft)
            totals.overhead = merge(overhead)
        out[key] = totals
    return out
