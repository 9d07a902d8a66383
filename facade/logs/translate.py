"""The log API's JSON <-> `gateway.v1` LogService protos.

Request: `{"filter": {FIELD: [{"key", "value", "operator"}]}, "sort": [{"key", "order"}],
"limit", "offset"}`, all optional. Only the JSON shape is checked here (objects, lists,
operator and order names, integer limit/offset); core checks fields, value types and bounds
and names the ListLogsRequest path at fault, which `json_param` maps back onto this body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf.duration_pb2 import Duration

from codec import CodecError
from facade.filters import filter_param, indexed_param, read_filters
from gateway.v1 import log_pb2, log_service_pb2 as pb

__all__ = ["ParsedQuery", "entry_to_json", "json_param", "list_request_from_json", "page_to_json"]

_ORDERS = {"ASC": False, "DESC": True}
_STATUS = {log_pb2.LOG_STATUS_SUCCESS: "success", log_pb2.LOG_STATUS_ERROR: "error"}
_BODY_KEYS = frozenset({"filter", "sort", "limit", "offset"})
_INT32 = (-(2**31), 2**31 - 1)


@dataclass(slots=True)
class ParsedQuery:
    """The request, plus where each proto filter / sort key came from in the JSON body."""

    request: pb.ListLogsRequest
    filter_paths: list[str] = field(default_factory=list)
    sort_paths: list[str] = field(default_factory=list)


def list_request_from_json(body: dict[str, Any]) -> ParsedQuery:
    """A ListLogsRequest from the JSON body; CodecError (400) naming the part of a bad shape."""
    unknown = sorted(set(body) - _BODY_KEYS)
    if unknown:
        raise CodecError(
            f"unknown key {unknown[0]!r} in the body; use filter, sort, limit and offset",
            unknown[0],
        )
    parsed = ParsedQuery(pb.ListLogsRequest())
    read_filters(body.get("filter"), parsed.request.filters, parsed.filter_paths)
    _read_sort(body.get("sort"), parsed)
    limit = _int_or_none(body.get("limit"), "limit")
    if limit is not None:
        if limit < 1:  # 0 would mean "the default" in the proto
            raise CodecError(f"limit must be 1 or more; got {limit}", "limit")
        parsed.request.page_size = _clamp(limit)
    offset = _int_or_none(body.get("offset"), "offset")
    if offset is not None:
        parsed.request.offset = _clamp(offset)
    return parsed


def json_param(param: str | None, parsed: ParsedQuery) -> str | None:
    """Core's `filters[3].value` as this body's `filter.created_at[1].value`, and so on."""
    if param is None:
        return None
    in_body = filter_param(param, parsed.filter_paths) or indexed_param(
        param, "sort_fields", parsed.sort_paths, {"field": "key", "descending": "order"}
    )
    if in_body is not None:
        return in_body
    return {"page_size": "limit", "sort_fields": "sort", "filters": "filter"}.get(param, param)


def page_to_json(response: pb.ListLogsResponse) -> dict[str, Any]:
    """`{"data": [records], "pagination": {"total", "limit", "offset"}}`."""
    return {
        "data": [entry_to_json(e) for e in response.log_entries],
        "pagination": {
            "total": response.total_size,
            "limit": response.page_size,
            "offset": response.offset,
        },
    }


def entry_to_json(entry: log_pb2.LogEntry) -> dict[str, Any]:
    """One record: `id`, `created_at` (epoch ms) and `metadata` first, then the rest."""
    failed = entry.status == log_pb2.LOG_STATUS_ERROR
    return {
        "id": entry.id,
        "created_at": entry.create_time.seconds * 1000 + entry.create_time.nanos // 1_000_000,
        "metadata": dict(entry.metadata),
        "model": entry.model,
        "resolved_model": entry.resolved_model,
        "provider_account": entry.provider_account,
        "user": entry.subject,
        "key_id": entry.key_id,
        "teams": list(entry.teams),
        "stream": entry.stream,
        "api": entry.api,
        "status": _STATUS.get(entry.status, "unknown"),
        "http_status": entry.http_status,
        "error": {"code": entry.error_reason, "message": entry.error_message} if failed else None,
        "usage": {
            "input_tokens": entry.usage.input_tokens,
            "output_tokens": entry.usage.output_tokens,
            "total_tokens": entry.usage.total_tokens,
        },
        "cost": entry.cost,
        "latency_ms": _ms(entry.latency),
        "ttft_ms": (
            _ms(entry.time_to_first_token) if entry.HasField("time_to_first_token") else None
        ),
        "upstream_latency_ms": (
            _ms(entry.upstream_latency) if entry.HasField("upstream_latency") else None
        ),
        "attempts": [
            {
                "model": a.model,
                "http_status": a.http_status,
                "error_code": a.error_reason or None,
                "latency_ms": _ms(a.latency),
                "input_tokens": a.input_tokens,
                "output_tokens": a.output_tokens,
                "cost": a.cost,
            }
            for a in entry.attempts
        ],
        # The bodies as logged, byte for byte: orjson embeds the JSON text without parsing it.
        "request": orjson.Fragment(entry.request_json) if entry.request_json else None,
        "response": orjson.Fragment(entry.response_json) if entry.response_json else None,
        # True when a body above is only the start of the logged text, as a JSON string: the
        # page had to fit the gateway's message limit; GET the record for the whole body.
        "bodies_truncated": entry.bodies_truncated,
    }


def _read_sort(raw: Any, parsed: ParsedQuery) -> None:
    if raw is None:
        return
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise CodecError('sort must be a list: [{"key": FIELD, "order": "ASC"|"DESC"}]', "sort")
    for i, item in enumerate(raw):
        path = f"sort[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise CodecError(f'{path} must be {{"key": FIELD, "order": "ASC"|"DESC"}}', path)
        order = item.get("order", "ASC")
        if not isinstance(order, str) or order.upper() not in _ORDERS:
            raise CodecError(
                f"unknown sort order {order!r} for {item['key']!r}; use ASC or DESC",
                f"{path}.order",
            )
        parsed.request.sort_fields.append(
            pb.LogSortField(field=item["key"], descending=_ORDERS[order.upper()])
        )
        parsed.sort_paths.append(path)


def _int_or_none(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise CodecError(f"{name} must be an integer; got {value!r}", name)
    return value


def _clamp(number: int) -> int:
    # Core reports values out of range; int32 bounds keep them out of range, and sendable.
    return max(_INT32[0], min(number, _INT32[1]))


def _ms(duration: Duration) -> float:
    return float(duration.seconds * 1000 + duration.nanos / 1_000_000)
