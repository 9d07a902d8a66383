"""The metrics API's JSON <-> `gateway.v1` MetricsService protos.

Request: `{"start_time": ms, "end_time": ms, "filter": {...the log API's...}, "group_by":
[...], "interval": "minute"|"hour"|"day"|"week"|"month"|"auto"|null, "limit": N}`. Answer:
`{"rows": [...], "totals": {...}, "interval", "start_time", "end_time"}`; each row holds its
group fields (null where the calls had no value), `bucket_start` (epoch ms) when bucketed,
the counts, tokens and cost, and `latency_ms` / `ttft_ms` / `gateway_overhead_ms` as
`{"p50", "p90", "p99"}` (null without a measurement, or with `"percentiles": false`), and
`other` (the folded groups).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codec import CodecError
from facade.filters import filter_param, read_filters
from gateway.v1 import metrics_pb2, metrics_service_pb2 as pb

__all__ = ["ParsedMetricsQuery", "json_param", "query_from_json", "response_to_json"]

_BODY_KEYS = frozenset(
    {"start_time", "end_time", "filter", "group_by", "interval", "limit", "percentiles"}
)
_INTERVALS = {
    name.removeprefix("METRICS_INTERVAL_").lower(): number
    for name, number in metrics_pb2.MetricsInterval.items()
    if number != metrics_pb2.METRICS_INTERVAL_UNSPECIFIED
}
_INTERVAL_NAMES = {number: name for name, number in _INTERVALS.items()}
_INT32_MAX = 2**31 - 1
_MS_RANGE = (-62_135_596_800_000, 253_402_300_799_999)  # what a Timestamp holds: years 1-9999


@dataclass(slots=True)
class ParsedMetricsQuery:
    """The request, plus where each proto filter came from in the JSON body."""

    request: pb.QueryMetricsRequest
    filter_paths: list[str] = field(default_factory=list)


def query_from_json(body: dict[str, Any]) -> ParsedMetricsQuery:
    """A QueryMetricsRequest from the JSON body; CodecError (400) naming a bad part."""
    unknown = sorted(set(body) - _BODY_KEYS)
    if unknown:
        raise CodecError(
            f"unknown key {unknown[0]!r} in the body; use {', '.join(sorted(_BODY_KEYS))}",
            unknown[0],
        )
    parsed = ParsedMetricsQuery(pb.QueryMetricsRequest())
    request = parsed.request
    for name in ("start_time", "end_time"):
        value = _int(body.get(name), name, _MS_RANGE)
        if value is not None:
            getattr(request, name).FromMilliseconds(value)
    read_filters(body.get("filter"), request.filters, parsed.filter_paths)
    group_by = body.get("group_by")
    if group_by is not None:
        if not isinstance(group_by, list) or not all(isinstance(g, str) for g in group_by):
            raise CodecError('group_by must be a list of field names, e.g. ["model"]', "group_by")
        request.group_by.extend(group_by)
    interval = body.get("interval")
    if interval is not None:
        if not isinstance(interval, str) or interval not in _INTERVALS:
            raise CodecError(
                f"unknown interval {interval!r}; use one of: {', '.join(_INTERVALS)}, or null",
                "interval",
            )
        request.interval = _INTERVALS[interval]
    limit = _int(body.get("limit"), "limit", (1, _INT32_MAX))
    if limit is not None:
        request.limit = limit
    percentiles = body.get("percentiles")
    if percentiles is not None:
        if not isinstance(percentiles, bool):
            raise CodecError(
                f"percentiles must be true or false; got {percentiles!r}", "percentiles"
            )
        request.percentiles = percentiles
    return parsed


def json_param(param: str | None, parsed: ParsedMetricsQuery) -> str | None:
    """Core's request paths (`filters[2].value`) as this body's (`filter.model[0].value`)."""
    if param is None:
        return None
    in_filter = filter_param(param, parsed.filter_paths)
    if in_filter is not None:
        return in_filter
    return {"filters": "filter", "models": "filter", "subjects": "filter"}.get(param, param)


def response_to_json(response: pb.QueryMetricsResponse, group_by: list[str]) -> dict[str, Any]:
    return {
        "rows": [_row(row, group_by) for row in response.rows],
        "totals": _figures(response.totals),
        "interval": _INTERVAL_NAMES.get(response.interval),
        "start_time": response.start_time.ToMilliseconds(),
        "end_time": response.end_time.ToMilliseconds(),
    }


def _row(row: metrics_pb2.MetricsRow, group_by: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {name: row.group.get(name) for name in group_by}
    if row.HasField("bucket_start_time"):
        out["bucket_start"] = row.bucket_start_time.ToMilliseconds()
    out.update(_figures(row))
    out["other"] = row.other
    return out


def _figures(row: metrics_pb2.MetricsRow) -> dict[str, Any]:
    return {
        "requests": row.requests,
        "errors": row.errors,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "total_tokens": row.total_tokens,
        "cost": row.cost,
        "latency_ms": _percentiles(row, "latency"),
        "ttft_ms": _percentiles(row, "time_to_first_token"),
        "gateway_overhead_ms": _percentiles(row, "gateway_overhead"),
    }


def _percentiles(row: metrics_pb2.MetricsRow, name: str) -> dict[str, float] | None:
    if not row.HasField(name):  # type: ignore[arg-type]  # one of the three Percentiles fields
        return None
    found: metrics_pb2.Percentiles = getattr(row, name)
    return {"p50": found.p50_ms, "p90": found.p90_ms, "p99": found.p99_ms}


def _int(value: Any, name: str, bounds: tuple[int, int]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise CodecError(f"{name} must be an integer; got {value!r}", name)
    if not bounds[0] <= value <= bounds[1]:
        raise CodecError(f"{name} must be between {bounds[0]} and {bounds[1]}; got {value}", name)
    return value
