"""The pure parts: ListLogsRequest -> LogQuery, LogRecord <-> LogEntry, JSON paths of errors."""

from __future__ import annotations

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from core.errors import InvalidRequest
from core.logs.convert import entry_to_record, record_to_entry
from core.logs.query import (
    PageBounds,
    check_page,
    decode_page_token,
    encode_page_token,
    query_from_request,
)
from core.store.base import LogFilter, LogScope, LogSort
from facade.logs.translate import json_param, list_request_from_json
from gateway.v1 import log_service_pb2 as pb
from tests.logapi.records import RECORDS


@pytest.mark.parametrize("record", RECORDS[:12], ids=lambda r: r.id)
def test_records_survive_the_wire(record: object) -> None:
    assert entry_to_record(record_to_entry(record)) == record  # type: ignore[arg-type]


def test_typed_fields_become_the_same_filters() -> None:
    request = pb.ListLogsRequest(
        start_time=Timestamp(seconds=10, nanos=5_000_000),
        end_time=Timestamp(seconds=20),
        models=["a/b"],
        subjects=["user:x"],
        metadata={"env": "dev", "app": "bot"},
    )
    scope = LogScope(subjects=("user:x",))
    query = query_from_request(request, scope, PageBounds())
    assert query.filters == (
        LogFilter("created_at", "GTE", 10_005),
        LogFilter("created_at", "LT", 20_000),
        LogFilter("model", "IN", ["a/b"]),
        LogFilter("user", "IN", ["user:x"]),
        LogFilter("metadata.app", "EQ", "bot"),
        LogFilter("metadata.env", "EQ", "dev"),
    )
    assert query.sort == (LogSort("created_at", descending=True),)
    assert (query.limit, query.offset, query.scope) == (25, 0, scope)


def test_numbers_are_typed_for_the_store() -> None:
    request = pb.ListLogsRequest()
    for field, value in (("cost", 1), ("created_at", 5.0), ("stream", True)):
        item = request.filters.add(field=field, operator=pb.LOG_FILTER_OPERATOR_EQ)
        if isinstance(value, bool):
            item.value.bool_value = value
        else:
            item.value.number_value = value
    filters = query_from_request(request, None, PageBounds()).filters
    assert [(f.value, type(f.value)) for f in filters] == [(1.0, float), (5, int), (True, bool)]


def test_page_bounds_are_configurable() -> None:
    bounds = PageBounds(default_limit=10, max_limit=50)
    assert check_page(0, 0, bounds) == (10, 0)
    assert check_page(50, 3, bounds) == (50, 3)
    with pytest.raises(InvalidRequest, match="between 1 and 50; got 51"):
        check_page(51, 0, bounds)


def test_too_many_sort_fields() -> None:
    request = pb.ListLogsRequest(sort_fields=[pb.LogSortField(field="cost")] * 6)
    with pytest.raises(InvalidRequest) as raised:
        query_from_request(request, None, PageBounds())
    assert raised.value.param == "sort_fields"


def test_unknown_operator_number() -> None:
    request = pb.ListLogsRequest()
    request.filters.add(field="cost", operator=42)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="unknown operator '42'"):
        query_from_request(request, None, PageBounds())


@pytest.mark.parametrize("offset", [0, 1, 25, 10**9])
def test_page_tokens_round_trip(offset: int) -> None:
    assert decode_page_token(encode_page_token(offset)) == offset


@pytest.mark.parametrize("token", ["", "x", "bzotMQ", "YTox", "%%%"])
def test_bad_page_tokens(token: str) -> None:
    with pytest.raises(InvalidRequest):
        decode_page_token(token)


def test_error_paths_map_back_onto_the_json_body() -> None:
    parsed = list_request_from_json(
        {
            "filter": {
                "created_at": [
                    {"key": "created_at", "value": 1, "operator": "GTE"},
                    {"value": 2, "operator": "lt"},
                ],
                "metadata.env": {"value": "dev"},
            },
            "sort": [{"key": "cost"}, {"key": "created_at", "order": "desc"}],
        }
    )
    assert [f.field for f in parsed.request.filters] == ["created_at", "created_at", "metadata.env"]
    assert [s.descending for s in parsed.request.sort_fields] == [False, True]
    assert json_param("filters[1].value", parsed) == "filter.created_at[1].value"
    assert json_param("filters[2].field", parsed) == "filter.metadata.env[0].key"
    assert json_param("filters[0].value[3]", parsed) == "filter.created_at[0].value[3]"
    assert json_param("sort_fields[1].field", parsed) == "sort[1].key"
    assert json_param("page_size", parsed) == "limit"
    assert json_param("offset", parsed) == "offset"
    assert json_param(None, parsed) is None
    assert json_param("filters[9].value", parsed) == "filters[9].value"
