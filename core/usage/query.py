"""Metrics queries, checked: the one place a QueryMetrics request becomes a MetricsQuery.

Filters take the log API's fields and operators (core/logs/query.py checks them); ordering
filters on `created_at` narrow the period. Each violation is an InvalidRequest whose `param`
is its path in `QueryMetricsRequest`; the JSON API maps it back onto its own body.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import InvalidRequest
from core.logs.convert import ms_from_timestamp
from core.logs.query import check_field_filters, shorthand_filters
from core.metadata import check_key, field_key
from core.store.base import LogFilter, LogScope
from core.usage.dimensions import DIMENSIONS, GROUPABLE
from core.usage.timeline import MAX_POINTS, auto_interval, points
from gateway.v1 import metrics_pb2, metrics_service_pb2 as pb

DEFAULT_LIMIT = 100
DEFAULT_SERIES = 10
"""The default limit when rows are bucketed by time: a chart of more series is unreadable,
and each series costs a row per bucket."""
MAX_LIMIT = 1000
MAX_GROUP_BY = 4

INTERVAL_NAMES: dict[metrics_pb2.MetricsInterval.ValueType, str] = {
    metrics_pb2.METRICS_INTERVAL_MINUTE: "minute",
    metrics_pb2.METRICS_INTERVAL_HOUR: "hour",
    metrics_pb2.METRICS_INTERVAL_DAY: "day",
    metrics_pb2.METRICS_INTERVAL_WEEK: "week",
    metrics_pb2.METRICS_INTERVAL_MONTH: "month",
}
_TIME_ORDERING = frozenset({"LT", "LTE", "GT", "GTE"})
EARLIEST_MS = 0  # 1970: records are created by a running gateway
LATEST_MS = 253_370_678_400_000  # 9998-12-31: month buckets still have a next month


@dataclass(frozen=True, slots=True)
class MetricsQuery:
    """A checked query: [start, end) in epoch ms, filters ANDed, groups, interval, limit."""

    start: int
    end: int
    filters: tuple[LogFilter, ...] = ()
    group_by: tuple[str, ...] = ()
    interval: str | None = None
    limit: int = DEFAULT_LIMIT
    scope: LogScope | None = None
    percentiles: bool = True
    """Whether rows carry latency, TTFT and overhead percentiles (reading histograms)."""


def query_from_request(
    request: pb.QueryMetricsRequest, scope: LogScope | None, now_ms: int
) -> MetricsQuery:
    """The checked query of a request, restricted to `scope` (None: every call)."""
    if not request.HasField("start_time"):
        raise InvalidRequest("start_time is required", param="start_time")
    if request.HasField("bucket"):
        raise InvalidRequest("bucket is not supported: set interval", param="bucket")
    start = ms_from_timestamp(request.start_time)
    end = ms_from_timestamp(request.end_time) if request.HasField("end_time") else now_ms
    if end <= start:
        raise InvalidRequest(
            f"end_time ({end}) must be after start_time ({start})", param="end_time"
        )
    filters = _filters(request)
    kept: list[LogFilter] = []
    for f in filters:
        if f.field == "created_at" and f.operator in _TIME_ORDERING:
            start, end = _narrowed(start, end, f)
        else:
            kept.append(f)
    end = max(end, start)
    for name, value in (("start_time", start), ("end_time", end)):
        if not EARLIEST_MS <= value <= LATEST_MS:
            raise InvalidRequest(
                f"{name} must be between year 1970 and 9998 (epoch ms "
                f"{EARLIEST_MS} to {LATEST_MS}); got {value}",
                param=name,
            )
    group_by = _group_by(list(request.group_by))
    interval = _interval(request.interval, start, end)
    limit = request.limit or (DEFAULT_LIMIT if interval is None else DEFAULT_SERIES)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}; got {limit}", param="limit")
    percentiles = request.percentiles if request.HasField("percentiles") else True
    return MetricsQuery(start, end, tuple(kept), group_by, interval, limit, scope, percentiles)


def _filters(request: pb.QueryMetricsRequest) -> list[LogFilter]:
    shorthand = shorthand_filters(request.models, request.subjects, request.metadata)
    return shorthand + check_field_filters(request.filters)


def _narrowed(start: int, end: int, f: LogFilter) -> tuple[int, int]:
    value = int(f.value)
    if f.operator == "GTE":
        return max(start, value), end
    if f.operator == "GT":
        return max(start, value + 1), end
    if f.operator == "LT":
        return start, min(end, value)
    return start, min(end, value + 1)  # LTE


def _group_by(fields: list[str]) -> tuple[str, ...]:
    if len(fields) > MAX_GROUP_BY:
        raise InvalidRequest(
            f"group_by takes at most {MAX_GROUP_BY} fields; got {len(fields)}", param="group_by"
        )
    for i, name in enumerate(fields):
        key = field_key(name)
        if key is not None:
            check_key(key, param=f"group_by[{i}]")
        elif name not in DIMENSIONS:
            raise InvalidRequest(
                f"cannot group by {name!r}; use one of: {', '.join(GROUPABLE)}",
                param=f"group_by[{i}]",
            )
        if name in fields[:i]:
            raise InvalidRequest(f"group_by lists {name!r} twice", param=f"group_by[{i}]")
    return tuple(fields)


def _interval(value: metrics_pb2.MetricsInterval.ValueType, start: int, end: int) -> str | None:
    if value == metrics_pb2.METRICS_INTERVAL_UNSPECIFIED:
        return None
    if value == metrics_pb2.METRICS_INTERVAL_AUTO:
        return auto_interval(start, end)
    name = INTERVAL_NAMES.get(value)
    if name is None:
        raise InvalidRequest(f"unknown interval {value}", param="interval")
    if points(start, end, name) > MAX_POINTS:
        raise InvalidRequest(
            f"interval {name} over this period gives more than {MAX_POINTS} points: use a "
            "longer interval (or auto) or a shorter period",
            param="interval",
        )
    return name
