"""Runs a metrics query: rollup rows where a set holds every field the query reads, raw
records for the rest, merged into groups and time buckets.

A query reads the first rollup set (core/usage/dimensions.py) that holds all of its group
and filter fields and its scope's. From that set's `since` on, the period is read from the
coarsest rows that fit (core/usage/timeline.py), the sub-minute edges from raw records.
A query no set can answer, or the part of its period before `since`, reads raw records,
over at most `raw_window_ms` of time in all: beyond that it is refused (400) with what to
change. Everything adds up as integers (core/usage/totals.py), so rollups and raw records,
SQLite and MongoDB give the same answer.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.errors import InvalidRequest
from core.store.base import LogFilter, LogQuery, LogRecord, Store
from core.usage.dimensions import RollupSet, getter, is_dimension
from core.usage.matching import matches, needed_fields, scope_fields, visible
from core.usage.query import MetricsQuery
from core.usage.rollup import HOUR_MS, Rollups, decode_dimensions
from core.usage.timeline import Piece, bucket_start, buckets, cover, merged
from core.usage.totals import Totals, of_record

RAW_WINDOW_MS = 24 * HOUR_MS
"""Default for the longest period a query may read from raw records."""
_SCAN_WINDOW_MS = HOUR_MS  # raw records are read an hour at a time, to bound memory

GroupKey = tuple[Any, ...]


@dataclass(slots=True)
class MetricsRow:
    """One group in one time bucket (`bucket_start` None: the whole period)."""

    group: GroupKey
    bucket_start: int | None
    totals: Totals
    other: bool = False


@dataclass(slots=True)
class MetricsResult:
    rows: list[MetricsRow]
    totals: Totals
    interval: str | None
    start: int
    end: int


@dataclass(slots=True)
class _Groups:
    """Totals by group and time bucket, and of everything."""

    by_group: dict[GroupKey, dict[int | None, Totals]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    everything: Totals = field(default_factory=Totals)

    def add(self, keys: Iterable[GroupKey], bucket: int | None, totals: Totals) -> None:
        self.everything.add(totals)
        for key in keys:
            per_bucket = self.by_group[key]
            found = per_bucket.get(bucket)
            if found is None:
                per_bucket[bucket] = found = Totals()
            found.add(totals)


class MetricsEngine:
    """Answers MetricsQuery from a store's rollups and records."""

    def __init__(
        self, store: Store, rollups: Rollups | None, *, raw_window_ms: int = RAW_WINDOW_MS
    ) -> None:
        self._store = store
        self._sets = rollups.sets if rollups is not None else ()
        self._raw_window_ms = raw_window_ms

    async def run(self, query: MetricsQuery) -> MetricsResult:
        rollup_set, since = await self._choose(query)
        periods = (
            [(None, query.start, query.end)]
            if query.interval is None
            else list(buckets(query.start, query.end, query.interval))
        )
        folded = await self._store.rollups_folded_until()
        pieces: list[Piece] = []
        raw: list[tuple[int, int]] = []
        slow = 0  # raw time not at a minute's edge
        for _, low, high in periods:
            split = high if rollup_set is None else min(max(low, since), high)
            if low < split:
                raw.append((low, split))
                slow += split - low
            rolled, edges = cover(split, high, folded)
            pieces.extend(rolled)
            raw.extend(edges)
        if slow > self._raw_window_ms:
            raise self._too_wide(query, rollup_set, since)
        groups = _Groups()
        if rollup_set is not None:
            await self._read_rollups(query, rollup_set, merged(pieces), groups)
        await self._read_raw(query, raw, groups)
        return MetricsResult(
            rows=_rows(groups, query.limit),
            totals=groups.everything,
            interval=query.interval,
            start=query.start,
            end=query.end,
        )

    async def _choose(self, query: MetricsQuery) -> tuple[RollupSet | None, int]:
        fields = _fields(query)
        if not all(is_dimension(f) for f in fields) or any(
            f.field == "created_at" for f in query.filters
        ):
            return None, 0
        for candidate in self._sets:
            if candidate.covers(fields):
                since = (await self._store.rollup_since()).get(candidate.id)
                if since is not None:
                    return candidate, since
        return None, 0

    def _too_wide(self, query: MetricsQuery, chosen: RollupSet | None, since: int) -> Exception:
        hours = self._raw_window_ms / HOUR_MS
        if chosen is not None:
            when = datetime.fromtimestamp(since / 1000, UTC).isoformat()
            return InvalidRequest(
                f"these figures are rolled up since {when}; before that they are read from raw "
                f"records, over at most {hours:g} hours: start the period later",
                param="start_time",
            )
        param, name = _unrolled(query, self._sets)
        return InvalidRequest(
            f"{name} is not rolled up with the other fields of this query, so it is read from "
            f"raw records, over at most {hours:g} hours: shorten the period, or roll it up "
            "(metadata keys: `metadata_keys` of the gateway-metrics-config document)",
            param=param,
        )

    async def _read_rollups(
        self, query: MetricsQuery, rollup_set: RollupSet, pieces: Sequence[Piece], groups: _Groups
    ) -> None:
        positions = {name: i for i, name in enumerate(rollup_set.dimensions)}
        filters, scope, group_by = query.filters, query.scope, query.group_by
        seen: dict[str, list[GroupKey] | None] = {}  # dimension text -> its groups, or filtered
        for piece in pieces:
            rows = await self._store.read_rollups(rollup_set.id, piece.span, piece.low, piece.high)
            for row in rows:
                if row.dimensions not in seen:
                    values = decode_dimensions(row.dimensions)
                    named = {name: values[i] for name, i in positions.items()}
                    passes = visible(scope, named) and all(matches(f, named) for f in filters)
                    seen[row.dimensions] = _keys(group_by, named) if passes else None
                keys = seen[row.dimensions]
                if keys is not None:
                    groups.add(keys, _bucket(row.start, query.interval), row.totals)

    async def _read_raw(
        self, query: MetricsQuery, ranges: Sequence[tuple[int, int]], groups: _Groups
    ) -> None:
        getters = {name: getter(name) for name in query.group_by}
        for low, high in _windows(ranges):
            time_range = (LogFilter("created_at", "GTE", low), LogFilter("created_at", "LT", high))
            scan = LogQuery(filters=(*query.filters, *time_range), scope=query.scope)
            for record in await self._store.scan_logs(scan):
                keys = _record_keys(getters, record)
                groups.add(keys, _bucket(record.created_at, query.interval), of_record(record))


def _bucket(ms: int, interval: str | None) -> int | None:
    return None if interval is None else bucket_start(ms, interval)


def _fields(query: MetricsQuery) -> set[str]:
    fields = set(query.group_by) | set(scope_fields(query.scope))
    for f in query.filters:
        fields.update(needed_fields(f))
    return fields


def _unrolled(query: MetricsQuery, sets: Sequence[RollupSet]) -> tuple[str, str]:
    """(param, field) of the first group or filter field that keeps rollups out."""
    rolled = {d for s in sets for d in s.dimensions}
    for i, name in enumerate(query.group_by):
        if name not in rolled:
            return f"group_by[{i}]", name
    for f in query.filters:
        if f.field not in rolled or f.field == "created_at":
            return "filters", f.field
    return "group_by", ", ".join(query.group_by) or "the scope"


def _keys(group_by: Sequence[str], values: Mapping[str, Any]) -> list[GroupKey]:
    """The groups of a row: one, or one per team when grouping by team."""
    choices = [
        (values[name] or (None,)) if name == "team" else (values[name],) for name in group_by
    ]
    return list(itertools.product(*choices))


def _record_keys(getters: Mapping[str, Any], record: LogRecord) -> list[GroupKey]:
    return _keys(list(getters), {name: get(record) for name, get in getters.items()})


def _windows(ranges: Sequence[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    for low, high in ranges:
        for start in range(low, high, _SCAN_WINDOW_MS):
            yield start, min(start + _SCAN_WINDOW_MS, high)


def _rows(groups: _Groups, limit: int) -> list[MetricsRow]:
    """Rows ordered by group then time; groups beyond `limit` (fewest requests) folded."""
    ranked = sorted(
        groups.by_group.items(),
        key=lambda item: (-sum(t.requests for t in item[1].values()), _order(item[0])),
    )
    kept, folded = ranked[:limit], ranked[limit:]
    rows = [
        MetricsRow(key, bucket, totals)
        for key, per_bucket in sorted(kept, key=lambda item: _order(item[0]))
        for bucket, totals in sorted(per_bucket.items(), key=lambda item: item[0] or 0)
    ]
    other: dict[int | None, Totals] = {}
    for _, per_bucket in folded:
        for bucket, totals in per_bucket.items():
            other.setdefault(bucket, Totals()).add(totals)
    rows.extend(
        MetricsRow((), bucket, totals, other=True)
        for bucket, totals in sorted(other.items(), key=lambda item: item[0] or 0)
    )
    return rows


def _order(key: GroupKey) -> tuple[tuple[bool, str], ...]:
    # Values of one field share a type, or are None (no value): None last, else by text.
    return tuple((value is None, str(value)) for value in key)
