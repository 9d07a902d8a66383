"""Groups of a metrics query: which group a row or record is in, and the rows of the answer.

A row's group is its values of the query's group_by fields; grouping by `team` puts a call
in each of its teams' groups (or in the no-team group). Rows come out ordered by group then
time, groups beyond the query's limit folded into one `other` row per time bucket.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.store.base import LogFilter, LogRecord, LogScope
from core.usage.dimensions import getter
from core.usage.matching import matches, visible
from core.usage.rollup import decode_dimensions
from core.usage.totals import Totals

GroupKey = tuple[Any, ...]


@dataclass(slots=True)
class MetricsRow:
    """One group in one time bucket (`bucket_start` None: the whole period)."""

    group: GroupKey
    bucket_start: int | None
    totals: Totals
    other: bool = False


@dataclass(slots=True)
class Groups:
    """Totals by group and time bucket, and (unless `partial`) of every call once."""

    by_group: defaultdict[GroupKey, dict[int | None, Totals]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    everything: Totals = field(default_factory=Totals)
    partial: bool = False
    """Some groups only: `everything` is not kept (the caller gets it elsewhere)."""

    def add(self, keys: Iterable[GroupKey], bucket: int | None, totals: Totals) -> None:
        if not self.partial:
            self.everything.add(totals)
        for key in keys:
            per_bucket = self.by_group[key]
            found = per_bucket.get(bucket)
            if found is None:
                per_bucket[bucket] = found = Totals()
            found.add(totals)


class Classifier:
    """Rollup rows' dimension texts -> group ids (None: not in the query), one id per group.

    Called once per distinct text (stores remember the answer); ids are stable for the
    classifier's life, so several passes over rows agree on them.
    """

    def __init__(
        self,
        dimensions: Sequence[str],
        filters: Sequence[LogFilter],
        scope: LogScope | None,
        group_by: Sequence[str],
    ) -> None:
        self._positions = {name: i for i, name in enumerate(dimensions)}
        self._filters = filters
        self._scope = scope
        self._group_by = group_by
        self.keys: list[list[GroupKey]] = []  # by id
        self.seen: dict[str, int | None] = {}  # dimension text -> its answer
        self._ids: dict[tuple[GroupKey, ...], int] = {}

    def __call__(self, dimensions: str) -> int | None:
        found = self.seen.get(dimensions, -1)
        if found != -1:
            return found
        values = decode_dimensions(dimensions)
        named = {name: values[i] for name, i in self._positions.items()}
        if visible(self._scope, named) and all(matches(f, named) for f in self._filters):
            found = self.group_of(group_keys(self._group_by, named))
        else:
            found = None
        self.seen[dimensions] = found
        return found

    def group_of(self, keys: list[GroupKey]) -> int:
        """The id of the group with these keys (a new one the first time)."""
        found = self._ids.get(tuple(keys))
        if found is None:
            found = self._ids[tuple(keys)] = len(self.keys)
            self.keys.append(keys)
        return found

    def texts_of(self, groups: set[int]) -> list[str]:
        """The dimension texts seen so far that belong to these groups."""
        return [text for text, group in self.seen.items() if group in groups]


def group_keys(group_by: Sequence[str], values: Mapping[str, Any]) -> list[GroupKey]:
    """The groups of a row: one, or one per team when grouping by team."""
    choices = [
        (values[name] or (None,)) if name == "team" else (values[name],) for name in group_by
    ]
    return list(itertools.product(*choices))


def record_grouper(group_by: Sequence[str]) -> Callable[[LogRecord], list[GroupKey]]:
    """A record's groups (as `group_keys`), with each field's getter made once."""
    getters = [(name, getter(name)) for name in group_by]
    return lambda record: group_keys(group_by, {name: get(record) for name, get in getters})


def order(key: GroupKey) -> tuple[tuple[bool, str], ...]:
    """Sort key of a group: values of one field share a type, or are None (last)."""
    return tuple((value is None, str(value)) for value in key)


def by_time(item: tuple[int | None, Totals]) -> int:
    return item[0] or 0


def rows_of(groups: Groups, limit: int) -> list[MetricsRow]:
    """Rows ordered by group then time; groups beyond `limit` (fewest requests) folded."""
    ranked = sorted(
        groups.by_group.items(),
        key=lambda item: (-sum(t.requests for t in item[1].values()), order(item[0])),
    )
    kept, folded = ranked[:limit], ranked[limit:]
    rows = [
        MetricsRow(key, bucket, totals)
        for key, per_bucket in sorted(kept, key=lambda item: order(item[0]))
        for bucket, totals in sorted(per_bucket.items(), key=by_time)
    ]
    other: dict[int | None, Totals] = {}
    for _, per_bucket in folded:
        for bucket, totals in per_bucket.items():
            other.setdefault(bucket, Totals()).add(totals)
    rows.extend(
        MetricsRow((), bucket, totals, other=True)
        for bucket, totals in sorted(other.items(), key=by_time)
    )
    return rows
