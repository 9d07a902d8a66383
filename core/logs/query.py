"""Log queries, checked: the one place a ListLogs request becomes a `LogQuery`.

Stores trust the queries they get (core/store/base.py), so every field, operator, value type
and page bound is checked here. Each violation is an InvalidRequest whose message names the
field, operator or value at fault and whose `param` is its path in `ListLogsRequest`
(`filters[2].value`); the JSON API maps that path back onto its own body.

Two limits protect the stores rather than the caller. A query takes at most 50 conditions in
`filters` (and 50 in the `metadata` shorthand): each one nests the SQL WHERE clause deeper,
and SQLite refuses expressions past 1,000 levels, which 500 conditions reached. A string value
may not hold NUL (U+0000): SQLite's LIKE ends its pattern there, so `CONTAINS "\u0000"`
matched every record; metadata values cannot hold NUL either (core/metadata.py), so nothing
stored is out of a filter's reach.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from codec import value_to_python
from core.errors import InvalidRequest
from core.logs.convert import ms_from_timestamp
from core.metadata import FIELD_PREFIX, check_key, field_key
from core.store.base import LOG_FIELDS, LogFilter, LogQuery, LogScope, LogSort, Operator
from gateway.v1 import log_service_pb2 as pb

DEFAULT_LIMIT = 25
MAX_LIMIT = 1000
MAX_LIST_VALUES = 1000
MAX_SORT_FIELDS = 5
MAX_CONDITIONS = 50

OPERATORS: tuple[Operator, ...] = (
    "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "IN", "NOT_IN", "CONTAINS",
)  # fmt: skip
_ORDERING = frozenset({"LT", "LTE", "GT", "GTE"})
_LISTS = frozenset({"IN", "NOT_IN"})
_OPERATOR_BY_ENUM = {
    pb.LogFilterOperator.Value(f"LOG_FILTER_OPERATOR_{name}"): name for name in OPERATORS
}
_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "a boolean"}
_FIELD_LIST = ", ".join((*LOG_FIELDS, "metadata.<key>"))


@dataclass(frozen=True, slots=True)
class PageBounds:
    """How many records a page may hold."""

    default_limit: int = DEFAULT_LIMIT
    max_limit: int = MAX_LIMIT


def field_type(name: str, *, param: str) -> type:
    """The value type of a filterable field; InvalidRequest naming it when unknown."""
    key = field_key(name)
    if key is not None:
        check_key(key, param=param)
        return str
    kind = LOG_FIELDS.get(name)
    if kind is None:
        raise InvalidRequest(f"unknown log field {name!r}; use one of: {_FIELD_LIST}", param=param)
    return kind


def check_filter(field: str, operator: str, value: Any, *, param: str) -> LogFilter:
    """`field operator value` as a LogFilter, or InvalidRequest; `param` is the filter's path."""
    kind = field_type(field, param=f"{param}.field")
    if operator not in OPERATORS:
        problem = "no operator" if operator == "UNSPECIFIED" else f"unknown operator {operator!r}"
        raise InvalidRequest(
            f"{problem} in the filter on {field!r}; use one of: {', '.join(OPERATORS)}",
            param=f"{param}.operator",
        )
    if operator == "CONTAINS" and kind is not str:
        raise InvalidRequest(
            f"operator CONTAINS is for string fields; each {field!r} is {_TYPE_NAMES[kind]}",
            param=f"{param}.operator",
        )
    if operator in _ORDERING and kind is bool:
        raise InvalidRequest(
            f"operator {operator} cannot order the boolean field {field!r}; use EQ or NEQ",
            param=f"{param}.operator",
        )
    where = f"the filter {field} {operator}"
    if operator in _LISTS:
        if not isinstance(value, list) or not value or len(value) > MAX_LIST_VALUES:
            raise InvalidRequest(
                f"{where} takes a list of 1 to {MAX_LIST_VALUES} values, each "
                f"{_TYPE_NAMES[kind]}; got {_show(value)}",
                param=f"{param}.value",
            )
        items = [_typed(kind, item, where, f"{param}.value[{i}]") for i, item in enumerate(value)]
        return LogFilter(field, operator, items)
    if isinstance(value, list):
        raise InvalidRequest(
            f"{where} takes one value, not a list (IN and NOT_IN take lists)",
            param=f"{param}.value",
        )
    return LogFilter(field, operator, _typed(kind, value, where, f"{param}.value"))


def check_sort(field: str, descending: bool, *, param: str) -> LogSort:
    """A sort key on a filterable field, or InvalidRequest."""
    field_type(field, param=f"{param}.field")
    return LogSort(field, descending=descending)


def check_page(limit: int, offset: int, bounds: PageBounds) -> tuple[int, int]:
    """(limit, offset) with the default limit for 0; InvalidRequest when out of range."""
    if limit == 0:
        limit = bounds.default_limit
    if not 1 <= limit <= bounds.max_limit:
        raise InvalidRequest(
            f"limit (page_size) must be between 1 and {bounds.max_limit}; got {limit}",
            param="page_size",
        )
    if offset < 0:
        raise InvalidRequest(f"offset must be 0 or more; got {offset}", param="offset")
    return limit, offset


def query_from_request(
    request: pb.ListLogsRequest, scope: LogScope | None, bounds: PageBounds
) -> LogQuery:
    """The checked query of a ListLogs request, restricted to `scope` (None: everything)."""
    filters = [*_typed_filters(request), *check_field_filters(request.filters)]
    sort = tuple(
        check_sort(s.field, s.descending, param=f"sort_fields[{i}]")
        for i, s in enumerate(request.sort_fields)
    )
    if len(sort) > MAX_SORT_FIELDS:
        raise InvalidRequest(
            f"at most {MAX_SORT_FIELDS} sort fields; got {len(sort)}", param="sort_fields"
        )
    offset = request.offset
    if request.page_token:
        if offset:
            raise InvalidRequest("set offset or page_token, not both", param="page_token")
        offset = decode_page_token(request.page_token)
    limit, offset = check_page(request.page_size, offset, bounds)
    return LogQuery(
        filters=tuple(filters),
        sort=sort or (LogSort("created_at", descending=True),),
        limit=limit,
        offset=offset,
        scope=scope,
    )


def check_field_filters(filters: Sequence[pb.LogFieldFilter]) -> list[LogFilter]:
    """Each `filters[i]` of a request, checked; at most MAX_CONDITIONS of them."""
    _check_count(len(filters), "filters")
    out: list[LogFilter] = []
    for i, item in enumerate(filters):
        operator = _OPERATOR_BY_ENUM.get(item.operator, _enum_name(item.operator))
        value = value_to_python(item.value) if item.HasField("value") else None
        out.append(check_filter(item.field, operator, value, param=f"filters[{i}]"))
    return out


def encode_page_token(offset: int) -> str:
    """Opaque token of the page starting at `offset`."""
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_page_token(token: str) -> int:
    """The offset inside a token from `encode_page_token`; InvalidRequest for anything else."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, number = raw.partition(":")
        offset = int(number) if prefix == "o" and number.isdigit() else -1
    except (binascii.Error, UnicodeDecodeError, ValueError):
        offset = -1
    if offset < 0:
        raise InvalidRequest(f"page_token {token[:40]!r} is not valid", param="page_token")
    return offset


def _typed_filters(request: pb.ListLogsRequest) -> list[LogFilter]:
    out: list[LogFilter] = []
    if request.HasField("start_time"):
        out.append(LogFilter("created_at", "GTE", ms_from_timestamp(request.start_time)))
    if request.HasField("end_time"):
        out.append(LogFilter("created_at", "LT", ms_from_timestamp(request.end_time)))
    return out + shorthand_filters(request.models, request.subjects, request.metadata)


def shorthand_filters(
    models: Sequence[str], subjects: Sequence[str], metadata: Mapping[str, str]
) -> list[LogFilter]:
    """The filters of a request's `models`, `subjects` and `metadata` fields (ListLogs and
    QueryMetrics both have them), each checked under its own param."""
    _check_count(len(metadata), "metadata")
    out: list[LogFilter] = []
    if models:
        out.append(check_filter("model", "IN", list(models), param="models"))
    if subjects:
        out.append(check_filter("user", "IN", list(subjects), param="subjects"))
    out.extend(
        check_filter(f"{FIELD_PREFIX}{key}", "EQ", value, param=f"metadata[{key!r}]")
        for key, value in sorted(metadata.items())
    )
    return out


def _check_count(count: int, param: str) -> None:
    if count > MAX_CONDITIONS:
        raise InvalidRequest(
            f"a query takes at most {MAX_CONDITIONS} filter conditions; got {count}",
            param=param,
        )


def _typed(kind: type, value: Any, where: str, param: str) -> Any:
    if value is None:
        raise InvalidRequest(f"{where} needs a value", param=param)
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, str)
        if ok and "\x00" in value:
            raise InvalidRequest(f"{where}: a value must not contain NUL (U+0000)", param=param)
    if not ok:
        unit = " (epoch milliseconds)" if " created_at " in where else ""
        raise InvalidRequest(
            f"{where}: value {_show(value)} is not {_TYPE_NAMES[kind]}{unit}", param=param
        )
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _enum_name(number: int) -> str:
    if number == pb.LOG_FILTER_OPERATOR_UNSPECIFIED:
        return "UNSPECIFIED"
    return str(number)
