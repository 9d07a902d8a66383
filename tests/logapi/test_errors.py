"""Every way to get the log API wrong: a 400 (or 404) in OpenAI's envelope naming the fault."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import pytest

from codec.depth import MAX_JSON_DEPTH
from core.logs.query import MAX_CONDITIONS
from core.store.base import LogFilter
from gateway.v1 import log_service_pb2 as pb
from gateway_client import InvalidRequestError, NotFoundError, log_filter
from tests.contract.records import matches
from tests.facade.envelope import error_of
from tests.logapi.conftest import REQUESTS_PATH, LogGateway
from tests.logapi.records import RECORDS

pytestmark = pytest.mark.asyncio(loop_scope="module")


def nested_list(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


def where(field: str, value: Any, operator: str = "EQ", key: str | None = None) -> dict[str, Any]:
    return {"filter": {field: [{"key": key or field, "value": value, "operator": operator}]}}


BAD_BODIES: list[tuple[str, dict[str, Any], str, list[str]]] = [
    # (case, body, param, words the message must contain)
    (
        "unknown field",
        where("colour", "red"),
        "filter.colour[0].key",
        ["'colour'", "created_at", "metadata.<key>"],
    ),
    ("empty metadata key", where("metadata.", "x"), "filter.metadata.[0].key", ["metadata key"]),
    (
        "unknown operator",
        where("model", "x", "LIKE"),
        "filter.model[0].operator",
        ["'LIKE'", "'model'", "CONTAINS"],
    ),
    ("operator not a string", where("model", "x", 3), "filter.model[0].operator", ["3", "'model'"]),  # type: ignore[arg-type]
    (
        "string for an integer",
        where("created_at", "yesterday", "LT"),
        "filter.created_at[0].value",
        ["created_at", "LT", "'yesterday'", "integer", "epoch milliseconds"],
    ),
    (
        "float for an integer",
        where("input_tokens", 1.5, "GT"),
        "filter.input_tokens[0].value",
        ["input_tokens", "1.5", "integer"],
    ),
    (
        "bool for a number",
        where("cost", True, "GT"),
        "filter.cost[0].value",
        ["cost", "True", "number"],
    ),
    (
        "string for a bool",
        where("stream", "true"),
        "filter.stream[0].value",
        ["stream", "'true'", "boolean"],
    ),
    ("number for a string", where("model", 4), "filter.model[0].value", ["model", "4", "string"]),
    (
        "number for metadata",
        where("metadata.customer_id", 123),
        "filter.metadata.customer_id[0].value",
        ["metadata.customer_id", "123", "string"],
    ),
    ("null value", where("user", None), "filter.user[0].value", ["user", "needs a value"]),
    (
        "missing value",
        {"filter": {"user": [{"key": "user", "operator": "EQ"}]}},
        "filter.user[0].value",
        ["'user'", "value"],
    ),
    ("list for EQ", where("model", ["a", "b"]), "filter.model[0].value", ["model EQ", "IN"]),
    ("scalar for IN", where("model", "a", "IN"), "filter.model[0].value", ["model IN", "list"]),
    (
        "empty IN",
        where("http_status", [], "NOT_IN"),
        "filter.http_status[0].value",
        ["http_status NOT_IN", "list"],
    ),
    (
        "wrong type inside IN",
        where("http_status", [200, "500"], "IN"),
        "filter.http_status[0].value[1]",
        ["http_status IN", "'500'", "integer"],
    ),
    (
        "CONTAINS on a number",
        where("cost", "1", "CONTAINS"),
        "filter.cost[0].operator",
        ["CONTAINS", "'cost'"],
    ),
    (
        "ordering a bool",
        where("stream", True, "LT"),
        "filter.stream[0].operator",
        ["LT", "'stream'", "EQ"],
    ),
    (
        "mismatched key",
        where("created_at", 1, "LT", key="model"),
        "filter.created_at[0].key",
        ["'model'", "'created_at'", "does not match"],
    ),
    ("filter not an object", {"filter": [1]}, "filter", ["filter must be an object"]),
    ("condition not an object", {"filter": {"model": ["x"]}}, "filter.model[0]", ["object"]),
    ("sort not a list", {"sort": "created_at"}, "sort", ["sort must be a list"]),
    ("conditions not a list", {"filter": {"model": "x"}}, "filter.model", ["filter.model", "list"]),
    (
        "unknown condition key",
        {"filter": {"model": [{"key": "model", "value": "x", "op": "EQ"}]}},
        "filter.model[0].op",
        ["'op'"],
    ),
    ("limit above the maximum", {"limit": 5000}, "limit", ["limit", "5000", "1000"]),
    ("limit zero", {"limit": 0}, "limit", ["limit", "0"]),
    ("limit not an integer", {"limit": "25"}, "limit", ["limit", "'25'", "integer"]),
    ("negative offset", {"offset": -1}, "offset", ["offset", "-1"]),
    (
        "unknown sort field",
        {"sort": [{"key": "colour", "order": "ASC"}]},
        "sort[0].key",
        ["'colour'"],
    ),
    (
        "unknown sort order",
        {"sort": [{"key": "cost", "order": "UP"}]},
        "sort[0].order",
        ["'UP'", "ASC", "DESC"],
    ),
    ("sort item without key", {"sort": [{"order": "ASC"}]}, "sort[0]", ["key"]),
    ("unknown body key", {"filters": {}}, "filters", ["'filters'"]),
    (
        "NUL in a CONTAINS value",  # SQLite's LIKE stopped at it: it matched every record
        where("user", "\u0000", "CONTAINS"),
        "filter.user[0].value",
        ["user CONTAINS", "NUL"],
    ),
    (
        "NUL in a metadata value",
        where("metadata.app", "bot\u0000"),
        "filter.metadata.app[0].value",
        ["metadata.app EQ", "NUL"],
    ),
    (
        "NUL inside an IN list",
        where("model", ["a", "\u0000"], "IN"),
        "filter.model[0].value[1]",
        ["NUL"],
    ),
    (
        "too many conditions",
        {
            "filter": {
                "latency_ms": [{"value": i, "operator": "GT"} for i in range(MAX_CONDITIONS + 1)]
            }
        },
        "filter",
        [f"at most {MAX_CONDITIONS} filter conditions", f"got {MAX_CONDITIONS + 1}"],
    ),
    (
        "500 conditions over several fields",
        {
            "filter": {
                "cost": [{"value": i, "operator": "GTE"} for i in range(250)],
                "model": [{"value": str(i), "operator": "NEQ"} for i in range(250)],
            }
        },
        "filter",
        ["got 500"],
    ),
    (
        "a value nested too deeply",
        where("user", nested_list(MAX_JSON_DEPTH - 3), "IN"),
        "filter.user[0].value",
        ["nested too deeply", f"at most {MAX_JSON_DEPTH} levels"],
    ),
]


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [pytest.param(body, param, words, id=case) for case, body, param, words in BAD_BODIES],
)
async def test_bad_queries_are_400_naming_the_fault(
    admin_http: httpx.AsyncClient, body: dict[str, Any], param: str, words: list[str]
) -> None:
    response = await admin_http.post(REQUESTS_PATH, json=body)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    for word in words:
        assert word in error["message"], (word, error["message"])


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"{not json", "invalid_json"), (b"[1, 2]", "invalid_request"), (b'"x"', "invalid_request")],
)
async def test_malformed_bodies(admin_http: httpx.AsyncClient, content: bytes, code: str) -> None:
    response = await admin_http.post(
        REQUESTS_PATH, content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == code


async def test_missing_or_wrong_key_is_401(shared_gateway: LogGateway) -> None:
    async with httpx.AsyncClient(base_url=shared_gateway.http_url) as http:
        missing = await http.post(REQUESTS_PATH, json={})
        wrong = await http.get(f"{REQUESTS_PATH}/req-001", headers={"authorization": "Bearer no"})
    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert error_of(wrong)["code"] == "invalid_api_key"


async def test_unknown_id_is_404(admin_http: httpx.AsyncClient) -> None:
    response = await admin_http.get(f"{REQUESTS_PATH}/req-999")
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "log_not_found"
    assert "req-999" in error["message"]


async def test_grpc_errors_name_the_request_path(shared_gateway: LogGateway) -> None:
    async with shared_gateway.grpc() as client:
        with pytest.raises(InvalidRequestError) as raised:
            await client.logs.list(
                filters=[log_filter("created_at", "GTE", 1), log_filter("cost", "LT", "x")]
            )
        assert raised.value.param == "filters[1].value"
        assert "'x'" in raised.value.message
        with pytest.raises(InvalidRequestError) as raised:
            await client.logs.list(limit=1001)
        assert raised.value.param == "page_size"
        with pytest.raises(InvalidRequestError) as raised:
            await client.logs.list(pb.ListLogsRequest(filters=[pb.LogFieldFilter(field="model")]))
        assert raised.value.param == "filters[0].operator"
        assert "no operator" in raised.value.message
        with pytest.raises(InvalidRequestError) as raised:
            await client.logs.list(page_token="garbage!")
        assert raised.value.param == "page_token"
        with pytest.raises(InvalidRequestError) as raised:
            await client.logs.list(offset=3, page_token="bzo1")
        assert raised.value.param == "page_token"
        with pytest.raises(NotFoundError) as missing:
            await client.logs.get("req-999")
        assert missing.value.reason == "log_not_found"
        assert missing.value.grpc_code == grpc.StatusCode.NOT_FOUND
        with pytest.raises(InvalidRequestError):
            await client.logs.get("")
        with pytest.raises(ValueError, match="not both"):
            await client.logs.list(pb.ListLogsRequest(), limit=3)


async def test_grpc_queries_have_the_same_limits(shared_gateway: LogGateway) -> None:
    many = [log_filter("latency_ms", "GT", i) for i in range(MAX_CONDITIONS + 1)]
    async with shared_gateway.grpc() as client:
        with pytest.raises(InvalidRequestError) as raised:
            await client.logs.list(filters=many)
        assert raised.value.param == "filters"
        assert raised.value.grpc_code == grpc.StatusCode.INVALID_ARGUMENT
        metadata = {f"k{i}": "v" for i in range(MAX_CONDITIONS + 1)}
        with pytest.raises(InvalidRequestError) as raised:
            await client.logs.list(pb.ListLogsRequest(metadata=metadata))
        assert raised.value.param == "metadata"
        with pytest.raises(InvalidRequestError) as raised:
            await client.logs.list(filters=[log_filter("user", "CONTAINS", "\x00")])
        assert raised.value.param == "filters[0].value"


async def test_the_most_conditions_allowed_run_on_the_store(shared_gateway: LogGateway) -> None:
    # Each condition nests SQLite's WHERE clause deeper; 500 of them went past its limit.
    half = MAX_CONDITIONS // 2
    conditions = [LogFilter("metadata.application", "CONTAINS", "bot")] * half + [
        LogFilter("latency_ms", "GTE", 0)
    ] * (MAX_CONDITIONS - half)
    filters = [log_filter(c.field, c.operator, c.value) for c in conditions]
    expected = [r for r in RECORDS if all(matches(r, c) for c in conditions)]
    async with shared_gateway.grpc() as client:
        page = await client.logs.list(filters=filters, limit=1000)
        assert expected
        assert page.total_size == len(expected)
        # and with every shorthand at its limit too
        request = pb.ListLogsRequest(
            filters=filters,
            models=["openai-main/gpt-4o"],
            subjects=["user:alice@example.com"],
            metadata={f"k{i}": "v" for i in range(MAX_CONDITIONS)},
        )
        assert (await client.logs.list(request)).total_size == 0
