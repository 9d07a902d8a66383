"""Runs a metrics query: rollup rows where a set holds every field the query reads, raw
records for the rest, merged into groups and time buckets.

A query reads the first rollup set (core/usage/dimensions.py) that holds all of its group
and filter fields and its scope's. From that set's `since` on, the period is read from the
coarsest rows that fit (core/usage/timeline.py), the sub-minute edges from raw records.
A query no set can answer, or the part of its period before `since`, reads raw records,
over at most `raw_window_ms` of time in all: beyond that it is refused (400) with what to
change. Everything adds up as integers (core/usage/totals.py), so rollups and raw records,
SQLite and MongoDB give the same answer.

A grouped query answered from rollups goes by its top groups: it ranks the groups by
requests over the whole period (from the coarsest rows, counts only), reads the time
buckets of the top `limit` groups only, and gets `other` and the totals from the same query
without groups (a smaller set's rows) less the top groups. So a week of hourly rows of
thousands of (user, model) pairs costs the rows of the few groups shown. Grouping by team
(a call in several groups) and queries with long raw parts read every group once instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from core.config.models import DEFAULT_RAW_WINDOW_HOURS
from core.errors import InvalidRequest
from core.store.base import LogFilter, LogQuery, LogRecord, MetricsReader, Store
from core.usage.accumulate import Bucket
from core.usage.dimensions import RollupSet, is_dimension
from core.usage.grouping import (
    Classifier,
    GroupKey,
    Groups,
    MetricsRow,
    order,
    record_grouper,
    rows_of,
)
from core.usage.matching import needed_fields, scope_fields
from core.usage.query import MetricsQuery
from core.usage.rollup import HOUR_MS, Rollups
from core.usage.timeline import Piece, bucket_start, buckets, cover, merged
from core.usage.totals import Totals, of_record

RAW_WINDOW_MS = int(DEFAULT_RAW_WINDOW_HOURS * HOUR_MS)
"""Default for the longest period a query may read from raw records."""
_SCAN_WINDOW_MS = HOUR_MS  # raw records are read an hour at a time, to bound memory

__all__ = ["RAW_WINDOW_MS", "MetricsEngine", "MetricsResult", "MetricsRow"]


@dataclass(slots=True)
class MetricsResult:
    rows: list[MetricsRow]
    totals: Totals
    interval: str | None
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Plan:
    """Where a query's figures come from."""

    rollup_set: RollupSet | None
    pieces: list[Piece]  # rollup rows to read, merged
    raw: list[tuple[int, int]]  # raw record ranges
    long_raw: bool  # raw ranges beyond sub-minute edges


class MetricsEngine:
    """Answers MetricsQuery from a store's rollups and records."""

    def __init__(
        self, store: Store, rollups: Rollups | None, *, raw_window_ms: int = RAW_WINDOW_MS
    ) -> None:
        self._store = store
        self._sets = rollups.sets if rollups is not None else ()
        self._raw_window_ms = raw_window_ms

    async def run(self, query: MetricsQuery) -> MetricsResult:
        # One snapshot for all of a query's reads (where the store has them): its rows, its
        # `other` rows and its totals then agree, whatever the log writer commits meanwhile.
        async with self._store.metrics_snapshot() as view:
            snapshot = _Snapshot(view, await view.rollup_since(), await view.rollups_folded_until())
            return await self._run(snapshot, query)

    async def _run(self, snapshot: _Snapshot, query: MetricsQuery) -> MetricsResult:
        plan = self._plan(snapshot, query)
        by_top_groups = bool(
            plan.rollup_set is not None
            and query.group_by
            and "team" not in query.group_by
            and not plan.long_raw
        )
        rows, totals = await (
            self._top_groups(snapshot, query, plan)
            if by_top_groups
            else self._every_group(snapshot.view, query, plan)
        )
        return MetricsResult(rows, totals, query.interval, query.start, query.end)

    # --- planning
    def _plan(self, snapshot: _Snapshot, query: MetricsQuery) -> _Plan:
        rollup_set, since = self._choose(snapshot, query)
        periods = (
            [(query.start, query.end)]
            if query.interval is None
            else [(low, high) for _, low, high in buckets(query.start, query.end, query.interval)]
        )
        pieces: list[Piece] = []
        raw: list[tuple[int, int]] = []
        slow = 0  # raw time not at a minute's edge
        for low, high in periods:
            split = high if rollup_set is None else min(max(low, since), high)
            if low < split:
                raw.append((low, split))
                slow += split - low
            rolled, edges = cover(split, high, snapshot.folded)
            pieces.extend(rolled)
            raw.extend(edges)
        if slow > self._raw_window_ms:
            raise self._too_wide(query, rollup_set, since)
        return _Plan(rollup_set, merged(pieces), raw, slow > 0)

    def _choose(self, snapshot: _Snapshot, query: MetricsQuery) -> tuple[RollupSet | None, int]:
        fields = _fields(query)
        if not all(is_dimension(f) for f in fields):
            return None, 0
        for candidate in self._sets:
            if candidate.covers(fields) and candidate.id in snapshot.since:
                return candidate, snapshot.since[candidate.id]
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

    # --- every group at once
    async def _every_group(
        self, view: MetricsReader, query: MetricsQuery, plan: _Plan
    ) -> tuple[list[MetricsRow], Totals]:
        groups = Groups()
        if plan.rollup_set is not None:
            classify = _classifier(plan.rollup_set, query)
            grouped = await view.aggregate_rollups(
                plan.rollup_set.id,
                _spans(plan.pieces),
                classify,
                _bucketer(query.interval),
                histograms=query.percentiles,
            )
            for (group, bucket), totals in grouped.items():
                groups.add(classify.keys[group], bucket, totals)
        async for records in _raw(view, query, plan.raw):
            _add_records(records, query, groups)
        return rows_of(groups, query.limit), groups.everything

    # --- the top groups, and the rest by difference
    async def _top_groups(
        self, snapshot: _Snapshot, query: MetricsQuery, plan: _Plan
    ) -> tuple[list[MetricsRow], Totals]:
        assert plan.rollup_set is not None
        view = snapshot.view
        classify = _classifier(plan.rollup_set, query)
        # Without long raw parts, the raw records are those of the sub-minute edges (the
        # same with or without time buckets, whose bounds are whole minutes): read once.
        edges = [record async for records in _raw(view, query, plan.raw) for record in records]
        # 1. Requests per group over the whole period: the coarsest rows, no histograms.
        whole = (
            plan if query.interval is None else self._plan(snapshot, replace(query, interval=None))
        )
        requests: dict[int, int] = {}
        for text, count in (
            await view.count_rollups(plan.rollup_set.id, _spans(whole.pieces))
        ).items():
            group = classify(text)
            if group is not None:
                requests[group] = requests.get(group, 0) + count
        keys_of = record_grouper(query.group_by)
        for record in edges:
            for key in keys_of(record):
                group = classify.group_of([key])  # a group only the edges hold gets an id too
                requests[group] = requests.get(group, 0) + 1
        ranked = sorted(requests, key=lambda g: (-requests[g], order(classify.keys[g][0])))
        top = set(ranked[: query.limit])
        # 2. The top groups' time buckets.
        groups = Groups(partial=True)

        def top_only(dimensions: str) -> int | None:
            group = classify(dimensions)
            return group if group in top else None

        grouped = await view.aggregate_rollups(
            plan.rollup_set.id,
            _spans(plan.pieces),
            top_only,
            _bucketer(query.interval),
            histograms=query.percentiles,
            # Every row of the period is in a ranked row's text: read only the top groups'.
            dimensions=classify.texts_of(top),
        )
        for (group, bucket), totals in grouped.items():
            groups.add(classify.keys[group], bucket, totals)
        _add_records(edges, query, groups, only={classify.keys[g][0] for g in top})
        # 3. Every group together, per bucket: the same query without groups.
        everything = await self._run(snapshot, replace(query, group_by=(), limit=1))
        rows = rows_of(groups, query.limit)
        if len(ranked) > query.limit:
            rows.extend(_others(everything.rows, groups))
        return rows, everything.totals


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """A query's view of the store, and what it says of the rollups (read once per query)."""

    view: MetricsReader
    since: Mapping[str, int]
    folded: int


async def _raw(
    view: MetricsReader, query: MetricsQuery, ranges: Sequence[tuple[int, int]]
) -> AsyncIterator[list[LogRecord]]:
    """The records of the ranges the query sees, an hour at a time (to bound memory)."""
    for low, high in _windows(ranges):
        time_range = (LogFilter("created_at", "GTE", low), LogFilter("created_at", "LT", high))
        yield await view.scan_logs(
            LogQuery(filters=(*query.filters, *time_range), scope=query.scope)
        )


def _add_records(
    records: Iterable[LogRecord],
    query: MetricsQuery,
    groups: Groups,
    *,
    only: set[GroupKey] | None = None,
) -> None:
    """Adds records to their groups (only to those of `only`, when given)."""
    keys_of = record_grouper(query.group_by)
    for record in records:
        keys = keys_of(record)
        if only is not None:
            keys = [k for k in keys if k in only]
            if not keys:
                continue
        totals = of_record(record, histograms=query.percentiles)
        groups.add(keys, _bucket(record.created_at, query.interval), totals)


def _others(overall: Sequence[MetricsRow], shown: Groups) -> list[MetricsRow]:
    """Per bucket, every group together less the groups shown: the folded ones."""
    out = []
    for row in overall:  # one group's rows: in time order
        rest = Totals()
        rest.add(row.totals)
        for per_bucket in shown.by_group.values():
            found = per_bucket.get(row.bucket_start)
            if found is not None:
                rest.subtract(found)
        if not rest.consistent():
            # Reads of a store without snapshots straddled new records: keep what is sure.
            rest = rest.clamped()
        if rest.requests:
            out.append(MetricsRow((), row.bucket_start, rest, other=True))
    return out


def _classifier(rollup_set: RollupSet, query: MetricsQuery) -> Classifier:
    return Classifier(rollup_set.dimensions, query.filters, query.scope, query.group_by)


def _spans(pieces: Sequence[Piece]) -> list[tuple[int, int, int]]:
    return [(p.span, p.low, p.high) for p in pieces]


def _no_bucket(start: int) -> None:
    return None


def _bucket(ms: int, interval: str | None) -> int | None:
    return None if interval is None else bucket_start(ms, interval)


def _bucketer(interval: str | None) -> Bucket:
    """bucket_start for rows, remembered per row start (rows share a few hundred starts)."""
    if interval is None:
        return _no_bucket
    known: dict[int, int] = {}

    def bucket(start: int) -> int:
        found = known.get(start)
        if found is None:
            found = known[start] = bucket_start(start, interval)
        return found

    return bucket


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
        if f.field not in rolled:
            return "filters", f.field
    return "group_by", ", ".join(query.group_by) or "the scope"


def _windows(ranges: Sequence[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    for low, high in ranges:
        for start in range(low, high, _SCAN_WINDOW_MS):
            yield start, min(start + _SCAN_WINDOW_MS, high)
