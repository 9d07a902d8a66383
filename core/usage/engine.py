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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from core.errors import InvalidRequest
from core.store.base import LogFilter, LogQuery, MetricsReader, Store
from core.usage.accumulate import Bucket
from core.usage.dimensions import RollupSet, is_dimension
from core.usage.grouping import (
    Classifier,
    GroupKey,
    Groups,
    MetricsRow,
    order,
    record_keys,
    rows_of,
)
from core.usage.matching import needed_fields, scope_fields
from core.usage.query import MetricsQuery
from core.usage.rollup import HOUR_MS, Rollups
from core.usage.timeline import Piece, bucket_start, buckets, cover, merged
from core.usage.totals import Totals, of_record

RAW_WINDOW_MS = 24 * HOUR_MS
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
            return await self._run(view, query)

    async def _run(self, view: MetricsReader, query: MetricsQuery) -> MetricsResult:
        plan = await self._plan(view, query)
        by_top_groups = bool(
            plan.rollup_set is not None
            and query.group_by
            and "team" not in query.group_by
            and not plan.long_raw
        )
        rows, totals = await (
            self._top_groups(view, query, plan)
            if by_top_groups
            else self._every_group(view, query, plan)
        )
        return MetricsResult(rows, totals, query.interval, query.start, query.end)

    # --- planning
    async def _plan(self, view: MetricsReader, query: MetricsQuery) -> _Plan:
        rollup_set, since = await self._choose(view, query)
        periods = (
            [(query.start, query.end)]
            if query.interval is None
            else [(low, high) for _, low, high in buckets(query.start, query.end, query.interval)]
        )
        folded = await view.rollups_folded_until()
        pieces: list[Piece] = []
        raw: list[tuple[int, int]] = []
        slow = 0  # raw time not at a minute's edge
        for low, high in periods:
            split = high if rollup_set is None else min(max(low, since), high)
            if low < split:
                raw.append((low, split))
                slow += split - low
            rolled, edges = cover(split, high, folded)
            pieces.extend(rolled)
            raw.extend(edges)
        if slow > self._raw_window_ms:
            raise self._too_wide(query, rollup_set, since)
        return _Plan(rollup_set, merged(pieces), raw, slow > 0)

    async def _choose(
        self, view: MetricsReader, query: MetricsQuery
    ) -> tuple[RollupSet | None, int]:
        fields = _fields(query)
        if not all(is_dimension(f) for f in fields) or any(
            f.field == "created_at" for f in query.filters
        ):
            return None, 0
        since = await view.rollup_since()
        for candidate in self._sets:
            if candidate.covers(fields) and candidate.id in since:
                return candidate, since[candidate.id]
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
        await self._read_raw(view, query, plan.raw, groups)
        return rows_of(groups, query.limit), groups.everything

    # --- the top groups, and the rest by difference
    async def _top_groups(
        self, view: MetricsReader, query: MetricsQuery, plan: _Plan
    ) -> tuple[list[MetricsRow], Totals]:
        assert plan.rollup_set is not None
        classify = _classifier(plan.rollup_set, query)
        # 1. Requests per group over the whole period: the coarsest rows, no histograms.
        whole = await self._plan(view, replace(query, interval=None))
        requests: dict[int, int] = {}
        for text, count in (
            await view.count_rollups(plan.rollup_set.id, _spans(whole.pieces))
        ).items():
            group = classify(text)
            if group is not None:
                requests[group] = requests.get(group, 0) + count
        edges = Groups(partial=True)
        await self._read_raw(view, replace(query, interval=None), whole.raw, edges)
        for key, per_bucket in edges.by_group.items():
            group = classify.group_of([key])  # a group only the raw edges hold gets an id too
            requests[group] = requests.get(group, 0) + sum(t.requests for t in per_bucket.values())
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
        shown = {classify.keys[g][0] for g in top}
        await self._read_raw(view, query, plan.raw, groups, only=shown)
        # 3. Every group together, per bucket: the same query without groups.
        everything = await self._run(view, replace(query, group_by=(), limit=1))
        rows = rows_of(groups, query.limit)
        if len(ranked) > query.limit:
            rows.extend(_others(everything.rows, groups))
        return rows, everything.totals

    async def _read_raw(
        self,
        view: MetricsReader,
        query: MetricsQuery,
        ranges: Sequence[tuple[int, int]],
        groups: Groups,
        *,
        only: set[GroupKey] | None = None,
    ) -> None:
        for low, high in _windows(ranges):
            time_range = (LogFilter("created_at", "GTE", low), LogFilter("created_at", "LT", high))
            scan = LogQuery(filters=(*query.filters, *time_range), scope=query.scope)
            for record in await view.scan_logs(scan):
                keys = record_keys(query.group_by, record)
                if only is not None:
                    keys = [k for k in keys if k in only]
                    if not keys:
                        continue
                groups.add(keys, _bucket(record.created_at, query.interval), of_record(record))


def _others(overall: Sequence[MetricsRow], shown: Groups) -> list[MetricsRow]:
    """Per bucket, every group together less the groups shown: the folded ones."""
    out = []
    for row in sorted(overall, key=lambda r: r.bucket_start or 0):
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
        if f.field not in rolled or f.field == "created_at":
            return "filters", f.field
    return "group_by", ", ".join(query.group_by) or "the scope"


def _windows(ranges: Sequence[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    for low, high in ranges:
        for start in range(low, high, _SCAN_WINDOW_MS):
            yield start, min(start + _SCAN_WINDOW_MS, high)
