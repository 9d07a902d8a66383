"""Bodies nested deeper than codec.MAX_JSON_DEPTH: 400 naming the field, core never called."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from codec.depth import MAX_JSON_DEPTH
from tests.clients.fake_core import FakeCore
from tests.facade.envelope import CHAT, USER, error_of


def nest(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


def tool(parameters: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "f", "parameters": parameters}}


CASES: list[tuple[str, str, dict[str, Any], str]] = [
    # (case, path, body one level too deep, param)
    (
        "tool parameters",
        CHAT,
        {"model": "echo", "messages": USER, "tools": [tool(nest(MAX_JSON_DEPTH - 3))]},
        "tools[0].function.parameters",
    ),
    (
        "response_format schema",
        CHAT,
        {
            "model": "echo",
            "messages": USER,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "s", "schema": nest(MAX_JSON_DEPTH - 2)},
            },
        },
        "response_format.json_schema.schema.a",
    ),
    (
        "chat metadata",
        CHAT,
        {"model": "echo", "messages": USER, "metadata": {"k": nest(MAX_JSON_DEPTH - 1)}},
        "metadata.k.a.a",
    ),
    (
        "embeddings extras",
        "/v1/embeddings",
        {"model": "embed", "input": "x", "user_data": nest(MAX_JSON_DEPTH)},
        "user_data.a.a.a",
    ),
    (
        "log filter value",
        "/api/svc/v1/llm-gateway/requests",
        {"filter": {"user": [{"key": "user", "value": nest(MAX_JSON_DEPTH - 3)}]}},
        "filter.user[0].value",
    ),
    (
        "metrics filter value",
        "/api/svc/v1/llm-gateway/metrics/query",
        {"start_time": 0, "filter": {"user": [{"value": nest(MAX_JSON_DEPTH - 3)}]}},
        "filter.user[0].value",
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "param"), [pytest.param(p, b, q, id=case) for case, p, b, q in CASES]
)
async def test_too_deep_is_a_400_naming_the_field(
    http: httpx.AsyncClient, core: FakeCore, path: str, body: dict[str, Any], param: str
) -> None:
    response = await http.post(path, json=body)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "invalid_request",
        param,
    )
    assert f"at most {MAX_JSON_DEPTH} levels" in error["message"]
    assert "Error" not in error["message"]  # no exception class names
    assert [c.method for c in core.calls] == ["ListModels"]  # the key check (facade/key_first.py)


async def test_the_limit_itself_is_accepted(http: httpx.AsyncClient, core: FakeCore) -> None:
    body = {"model": "echo", "messages": USER, "tools": [tool(nest(MAX_JSON_DEPTH - 4))]}
    response = await http.post(CHAT, json=body)
    assert response.status_code == 200, response.text
    assert core.last.request.params.tools[0].function.HasField("parameters")


async def test_the_key_is_checked_before_the_depth(http: httpx.AsyncClient) -> None:
    body = {"model": "echo", "messages": USER, "x": nest(100)}
    response = await http.post(CHAT, json=body, headers={"authorization": ""})
    assert response.status_code == 401
