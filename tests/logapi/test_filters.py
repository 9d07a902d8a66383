"""Every operator on every field type (metadata.<key> included), sort, limit/offset/total.

Answers are checked against the plain-Python oracle the store contract suite uses.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from core.store.base import LogFilter, LogSort
from gateway_client import log_filter, log_sort
from tests.contract.records import expected_order, matches
from tests.logapi.conftest import REQUESTS_PATH, LogGateway
from tests.logapi.records import BY_ID, RECORDS, SEED_FROM, SEED_TO

pytestmark = pytest.mark.asyncio(loop_scope="module")

T = RECORDS[30].created_at

CASES: list[tuple[str, str, Any]] = [
    # integers
    ("created_at", "EQ", T),
    ("created_at", "NEQ", T),
    ("created_at", "LT", T),
    ("created_at", "LTE", T),
    ("created_at", "GT", T),
    ("created_at", "GTE", T),
    ("created_at", "IN", [T, RECORDS[3].created_at, 5]),
    ("created_at", "NOT_IN", [T, RECORDS[3].created_at]),
    ("http_status", "EQ", 429),
    ("http_status", "GTE", 500),
    ("http_status", "LT", 300),
    ("http_status", "IN", [429, 502]),
    ("http_status", "NOT_IN", [200]),
    ("input_tokens", "GT", 100),
    ("output_tokens", "LTE", 10),
    ("total_tokens", "IN", [0, 15]),
    ("total_tokens", "NEQ", 0),
    # numbers (integers accepted)
    ("cost", "GT", 2.5),
    ("cost", "LTE", 1),
    ("cost", "EQ", 0.5),
    ("cost", "IN", [0, 0.125, 7.25]),
    ("latency_ms", "GTE", 300),
    ("latency_ms", "LT", 100.5),
    ("latency_ms", "NOT_IN", [50.0, 62.5]),
    ("ttft_ms", "GT", 20),
    ("ttft_ms", "LT", 10),
    ("ttft_ms", "EQ", 9.0),
    ("ttft_ms", "NEQ", 9.0),
    # strings
    ("id", "EQ", "req-007"),
    ("id", "IN", ["req-001", "req-002", "nope"]),
    ("id", "CONTAINS", "-01"),
    ("model", "EQ", "openai-main/gpt-4o"),
    ("model", "NEQ", "openai-main/gpt-4o"),
    ("model", "IN", ["mock-main/echo", "azure-east/gpt-4o"]),
    ("model", "NOT_IN", ["mock-main/echo", "openai-main/gpt-4o"]),
    ("model", "CONTAINS", "GPT-4O-MINI"),
    ("model", "LT", "b"),
    ("model", "GTE", "mock"),
    ("resolved_model", "EQ", "azure-east/gpt-4o"),
    ("resolved_model", "EQ", ""),
    ("provider_account", "IN", ["anthropic-main", "azure-east"]),
    ("user", "EQ", "user:alice@example.com"),
    ("user", "NEQ", "user:alice@example.com"),
    ("user", "CONTAINS", "CAROL"),
    ("user", "GT", "user:bob"),
    ("key_id", "NOT_IN", ["key-alice", "key-bob"]),
    ("team", "EQ", "team:blue"),
    ("team", "NEQ", "team:blue"),
    ("team", "IN", ["team:red"]),
    ("team", "NOT_IN", ["team:red", "team:blue"]),
    ("status", "EQ", "error"),
    ("status", "NEQ", "error"),
    ("error_code", "EQ", "rate_limited"),
    ("error_code", "CONTAINS", "upstream"),
    ("error_code", "LTE", "r"),
    # bools
    ("stream", "EQ", True),
    ("stream", "NEQ", True),
    ("stream", "IN", [False]),
    ("stream", "NOT_IN", [True]),
    # metadata.<key>: strings; NEQ / NOT_IN also match records without the key
    ("metadata.customer_id", "EQ", "101"),
    ("metadata.customer_id", "NEQ", "101"),
    ("metadata.customer_id", "LT", "103"),
    ("metadata.customer_id", "GTE", "104"),
    ("metadata.customer_id", "IN", ["100", "105"]),
    ("metadata.customer_id", "NOT_IN", ["100", "105"]),
    ("metadata.application", "EQ", "booking-bot"),
    ("metadata.application", "CONTAINS", "BOOKING"),
    ("metadata.environment", "LTE", "production"),
    ("metadata.missing", "NEQ", "x"),
    ("metadata.missing", "EQ", "x"),
]


def expected_ids(filters: list[LogFilter], sort: list[LogSort] | None = None) -> list[str]:
    found = [r for r in RECORDS if all(matches(r, f) for f in filters)]
    return expected_order(found, sort or [LogSort("created_at", descending=True)])


async def query(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(REQUESTS_PATH, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def ids(body: dict[str, Any]) -> list[str]:
    return [record["id"] for record in body["data"]]


@pytest.mark.parametrize(("field", "operator", "value"), CASES)
async def test_every_operator_on_every_field_type(
    admin_http: httpx.AsyncClient, field: str, operator: str, value: Any
) -> None:
    body = await query(
        admin_http,
        {"filter": {field: [{"key": field, "value": value, "operator": operator}]}, "limit": 1000},
    )
    expected = expected_ids([LogFilter(field, operator, value)])  # type: ignore[arg-type]
    assert 0 < len(expected) < len(RECORDS) or (field, operator) in {
        ("metadata.missing", "NEQ"),
        ("metadata.missing", "EQ"),
    }
    assert ids(body) == expected
    assert body["pagination"]["total"] == len(expected)


async def test_conditions_are_anded_within_and_across_fields(admin_http: httpx.AsyncClient) -> None:
    body = await query(
        admin_http,
        {
            "filter": {
                "created_at": [
                    {"key": "created_at", "value": SEED_TO, "operator": "LT"},
                    {"key": "created_at", "value": SEED_FROM, "operator": "GTE"},
                ],
                "metadata.environment": [
                    {"key": "metadata.environment", "value": "staging", "operator": "EQ"}
                ],
                "stream": [{"key": "stream", "value": True, "operator": "EQ"}],
            },
            "limit": 1000,
        },
    )
    expected = expected_ids(
        [
            LogFilter("created_at", "LT", SEED_TO),
            LogFilter("created_at", "GTE", SEED_FROM),
            LogFilter("metadata.environment", "EQ", "staging"),
            LogFilter("stream", "EQ", True),
        ]
    )
    assert expected
    assert ids(body) == expected


async def test_one_condition_and_one_sort_key_without_lists(admin_http: httpx.AsyncClient) -> None:
    body = await query(
        admin_http,
        {
            "filter": {"stream": {"value": False}},
            "sort": {"key": "created_at", "order": "ASC"},
            "limit": 1000,
        },
    )
    expected = expected_ids([LogFilter("stream", "EQ", False)], [LogSort("created_at", False)])
    assert ids(body) == expected


@pytest.mark.parametrize(
    "sort",
    [
        [("created_at", "ASC")],
        [("created_at", "DESC")],
        [("cost", "DESC")],
        [("ttft_ms", "ASC")],
        [("ttft_ms", "DESC")],
        [("user", "ASC"), ("latency_ms", "DESC")],
        [("metadata.customer_id", "ASC"), ("created_at", "DESC")],
        [("model", "DESC")],
    ],
)
async def test_sort(admin_http: httpx.AsyncClient, sort: list[tuple[str, str]]) -> None:
    body = await query(
        admin_http, {"sort": [{"key": k, "order": o} for k, o in sort], "limit": 1000}
    )
    assert ids(body) == expected_ids([], [LogSort(k, descending=o == "DESC") for k, o in sort])


async def test_limit_offset_total(admin_http: httpx.AsyncClient) -> None:
    everything = expected_ids([])
    seen: list[str] = []
    for offset in range(0, len(RECORDS) + 7, 7):
        body = await query(admin_http, {"limit": 7, "offset": offset})
        assert body["pagination"] == {"total": len(RECORDS), "limit": 7, "offset": offset}
        seen += ids(body)
    assert seen == everything
    past = await query(admin_http, {"limit": 7, "offset": 1000})
    assert past["data"] == []
    assert past["pagination"]["total"] == len(RECORDS)


async def test_defaults_and_empty_body(admin_http: httpx.AsyncClient) -> None:
    for response in (
        await admin_http.post(REQUESTS_PATH, json={}),
        await admin_http.post(REQUESTS_PATH),
    ):
        assert response.status_code == 200
        body = response.json()
        assert body["pagination"] == {"total": len(RECORDS), "limit": 25, "offset": 0}
        assert ids(body) == expected_ids([])[:25]


async def test_record_shape(admin_http: httpx.AsyncClient) -> None:
    body = await query(
        admin_http, {"filter": {"id": [{"key": "id", "value": "req-042", "operator": "EQ"}]}}
    )
    (record,) = body["data"]
    r = BY_ID["req-042"]
    assert record == {
        "id": "req-042",
        "created_at": r.created_at,
        "metadata": dict(r.metadata),
        "model": r.model,
        "resolved_model": r.resolved_model,
        "provider_account": r.provider_account,
        "user": r.subject,
        "key_id": r.key_id,
        "teams": list(r.teams),
        "stream": True,
        "api": r.api,
        "status": "success",
        "http_status": 200,
        "error": None,
        "usage": {
            "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens,
            "total_tokens": r.total_tokens,
        },
        "cost": r.cost,
        "latency_ms": r.latency_ms,
        "ttft_ms": r.ttft_ms,
        "upstream_latency_ms": r.upstream_ms,
        "attempts": [
            {
                "model": r.resolved_model,
                "http_status": 200,
                "error_code": None,
                "latency_ms": 82.0,
                "input_tokens": 0,
                "output_tokens": 0,
                "cost": 0.0,
            }
        ],
        "request": None if r.request_body is None else orjson.loads(r.request_body),
        "response": None if r.response_body is None else orjson.loads(r.response_body),
        "bodies_truncated": False,
    }
    failed = await query(
        admin_http, {"filter": {"id": [{"key": "id", "value": "req-003", "operator": "EQ"}]}}
    )
    assert failed["data"][0]["error"] == {"code": "upstream_error", "message": "Bad gateway"}
    assert failed["data"][0]["status"] == "error"
    assert failed["data"][0]["ttft_ms"] is None
    opted_out = await query(
        admin_http, {"filter": {"id": [{"key": "id", "value": "req-005", "operator": "EQ"}]}}
    )
    assert opted_out["data"][0]["request"] is None
    assert opted_out["data"][0]["response"] is None


async def test_get_one_record(admin_http: httpx.AsyncClient) -> None:
    response = await admin_http.get(f"{REQUESTS_PATH}/req-017")
    assert response.status_code == 200
    assert response.json()["id"] == "req-017"
    assert response.json()["created_at"] == BY_ID["req-017"].created_at


async def test_grpc_list_with_typed_and_field_filters(shared_gateway: LogGateway) -> None:
    async with shared_gateway.grpc() as client:
        page = await client.logs.list(
            filters=[
                log_filter("created_at", "GTE", SEED_FROM),
                log_filter("metadata.customer_id", "IN", ["101", "102"]),
            ],
            sort=[log_sort("cost"), log_sort("created_at", descending=False)],
            limit=5,
        )
        expected = expected_ids(
            [
                LogFilter("created_at", "GTE", SEED_FROM),
                LogFilter("metadata.customer_id", "IN", ["101", "102"]),
            ],
            [LogSort("cost"), LogSort("created_at", descending=False)],
        )
        assert [e.id for e in page.log_entries] == expected[:5]
        assert page.total_size == len(expected)
        assert page.page_size == 5
        # The page token continues where the page ended.
        following = await client.logs.list(
            filters=[
                log_filter("created_at", "GTE", SEED_FROM),
                log_filter("metadata.customer_id", "IN", ["101", "102"]),
            ],
            sort=[log_sort("cost"), log_sort("created_at", descending=False)],
            limit=5,
            page_token=page.next_page_token,
        )
        assert [e.id for e in following.log_entries] == expected[5:10]
        assert following.offset == 5
        entry = await client.logs.get("req-042")
        assert entry.usage.total_tokens == BY_ID["req-042"].total_tokens
