"""The OpenAPI document: valid OpenAPI 3.1, and true to what the handlers accept and answer.

The handlers parse their own JSON, so the request bodies are documented from models kept for
the document only (`facade/*/schemas.py`); these tests pin those models to the code that
really decides (codec, translate modules, core's checks). tests/reliability/test_fuzz_http.py
then fuzzes a running gateway from the same document.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from pydantic import ValidationError

from codec import CodecError, completion_request_from_json, responses_request_from_json
from core.errors import InvalidRequest
from core.identity.rules import normalize_subject
from core.store.base import LOG_FIELDS
from core.usage.dimensions import DIMENSIONS
from core.usage.query import EARLIEST_MS, LATEST_MS
from facade.app import create_app
from facade.keys.schemas import CreateKeyRequest
from facade.logs.schemas import FILTER_FIELDS, LogQueryRequest
from facade.metrics.schemas import GROUP_FIELDS, MetricsQueryRequest
from facade.openai.schemas import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    ResponseRequest,
)
from facade.settings import FacadeSettings
from gateway.v1 import log_service_pb2, metrics_pb2
from gateway_client import GatewayClient

BODIES = {
    "/v1/chat/completions": ("ChatCompletionRequest", True),
    "/v1/completions": ("CompletionRequest", True),
    "/v1/responses": ("ResponseRequest", True),
    "/api/inference/openai/responses": ("ResponseRequest", True),
    "/v1/embeddings": ("EmbeddingRequest", True),
    "/api/svc/v1/keys": ("CreateKeyRequest", True),
    "/api/svc/v1/llm-gateway/requests": ("LogQueryRequest", False),
    "/api/svc/v1/llm-gateway/metrics/query": ("MetricsQueryRequest", True),
    "/api/svc/v1/llm-gateway/codegen": ("CodegenRequest", True),
    "/v1/messages": ("MessagesRequest", True),
    "/api/inference/anthropic/v1/messages": ("MessagesRequest", True),
    "/v1/messages/count_tokens": ("CountTokensRequest", True),
    "/api/inference/anthropic/v1/messages/count_tokens": ("CountTokensRequest", True),
}
SEED_LOG_QUERY = {  # seeds/request-logging-and-metrics.txt, verbatim
    "filter": {
        "created_at": [
            {"key": "created_at", "value": 1731577557568, "operator": "LT"},
            {"key": "created_at", "value": 1731566757568, "operator": "GTE"},
        ]
    },
    "sort": [{"key": "created_at", "order": "DESC"}],
    "limit": 25,
    "offset": 0,
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    # The client opens its channel in the app's lifespan, which never runs here.
    document: dict[str, Any] = create_app(FacadeSettings(), GatewayClient("localhost:1")).openapi()
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def component(document: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/components/schemas/"), ref
    found: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    loaded = schemathesis.openapi.from_dict(document)
    loaded.validate()  # against the OpenAPI 3.1 meta-schema; raises when invalid
    assert len(list(loaded.get_all_operations())) == len(operations(document)) == 36


def test_every_schema_reference_resolves(document: dict[str, Any]) -> None:
    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if "$ref" in node else []
            return own + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    found = refs(document)
    assert found
    for ref in found:
        component(document, ref)


@pytest.mark.parametrize(("path", "body"), BODIES.items())
def test_each_body_the_handler_parses_is_documented(
    document: dict[str, Any], path: str, body: tuple[str, bool]
) -> None:
    request_body = document["paths"][path]["post"]["requestBody"]
    content = request_body["content"]
    assert list(content) == ["application/json"]
    assert content["application/json"]["schema"] == {"$ref": f"#/components/schemas/{body[0]}"}
    assert request_body["required"] is body[1]


def test_only_the_routes_that_read_a_body_document_one(document: dict[str, Any]) -> None:
    with_body = {path for _, path, op in operations(document) if "requestBody" in op}
    unprefixed = {
        p.removeprefix("/api/inference/openai").removeprefix("/api/inference/anthropic")
        for p in with_body
    }
    assert {p.removeprefix("/v1") for p in unprefixed} == {
        "/messages",
        "/messages/count_tokens",
        "/chat/completions",
        "/completions",
        "/responses",
        "/embeddings",
        "/api/svc/v1/keys",
        "/api/svc/v1/llm-gateway/requests",
        "/api/svc/v1/llm-gateway/metrics/query",
        "/api/svc/v1/llm-gateway/codegen",
    }


def test_every_operation_needs_the_bearer_key(document: dict[str, Any]) -> None:
    assert document["security"] == [{"bearerAuth": []}]
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert all("security" not in op for _, _, op in operations(document))  # no exceptions


def test_errors_are_the_envelope_and_no_422_is_promised(document: dict[str, Any]) -> None:
    # FastAPI assumes a 422 for routes with parameters; the facade answers 400.
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for method, path, operation in operations(document):
        statuses = set(operation["responses"])
        assert "422" not in statuses, (method, path)
        assert {"401", "431", "500"} <= statuses, (method, path)
        for status, response in operation["responses"].items():
            if status.isdigit() and int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                # Anthropic's routes answer Anthropic's envelope; a 431 comes from the
                # header-limit middleware, before any route, in OpenAI's.
                anthropic = "/messages" in path and status != "431"
                envelope = "AnthropicErrorResponse" if anthropic else "ErrorResponse"
                assert schema == {"$ref": f"#/components/schemas/{envelope}"}, (path, status)
                assert response["description"]


def test_openai_calls_document_the_metadata_header_and_streaming(
    document: dict[str, Any],
) -> None:
    for method, path, operation in operations(document):
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        is_call = path.endswith(("/completions", "/responses", "/embeddings"))
        expected = ["X-TFY-METADATA"] if is_call else []
        if path.endswith("/messages"):
            expected = ["x-api-key", "X-TFY-METADATA"]
        elif path.endswith("/messages/count_tokens"):
            expected = ["x-api-key"]
        assert names == expected, (method, path)
        if path.endswith(("/completions", "/responses")):
            assert set(operation["responses"]["200"]["content"]) == {
                "application/json",
                "text/event-stream",
            }
    header = document["paths"]["/v1/chat/completions"]["post"]["parameters"][0]
    content = header["schema"]["contentSchema"]
    assert (content["maxProperties"], content["additionalProperties"]["maxLength"]) == (64, 128)


def test_the_seed_log_query_is_a_valid_documented_body() -> None:
    LogQueryRequest.model_validate(SEED_LOG_QUERY)


def test_documented_filter_and_sort_fields_are_the_stores() -> None:
    assert set(FILTER_FIELDS) == set(LOG_FIELDS)


def test_documented_group_by_fields_are_core_dimensions() -> None:
    assert set(GROUP_FIELDS) == set(DIMENSIONS)


def test_documented_operators_and_intervals_are_the_protos() -> None:
    schemas = LogQueryRequest.model_json_schema()["$defs"]
    operators = {
        name.removeprefix("LOG_FILTER_OPERATOR_")
        for name, _ in log_service_pb2.LogFilterOperator.items()
    } - {"UNSPECIFIED"}
    assert set(schemas["Condition"]["properties"]["operator"]["enum"]) == operators
    interval = MetricsQueryRequest.model_json_schema()["properties"]["interval"]["anyOf"][0]
    intervals = {
        name.removeprefix("METRICS_INTERVAL_").lower()
        for name, _ in metrics_pb2.MetricsInterval.items()
    } - {"unspecified"}
    assert set(interval["enum"]) == intervals


def test_documented_metrics_period_is_cores() -> None:
    start = MetricsQueryRequest.model_json_schema()["properties"]["start_time"]
    assert (start["minimum"], start["maximum"]) == (EARLIEST_MS, LATEST_MS)


@pytest.mark.parametrize(
    "subject",
    ["user:ana@example.com", "virtualaccount:bot-1", "user:ana", "team:x", "virtualaccount:-x"],
)
def test_the_documented_subject_pattern_is_cores_rule(subject: str) -> None:
    pattern = CreateKeyRequest.model_json_schema()["properties"]["subject"]["pattern"]
    try:
        normalize_subject(subject)
        accepted = True
    except InvalidRequest:
        accepted = False
    assert bool(re.match(pattern, subject)) is accepted


@pytest.mark.parametrize(
    "body",
    [
        {"model": "openai-main/gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
        {
            "model": "m",
            "messages": [
                {"role": "developer", "content": [{"type": "text", "text": "be brief"}]},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "42"},
            ],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "stream": True,
            "stream_options": {"include_usage": True},
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
            "logit_bias": {"50256": -100},  # not modeled: passes through
        },
    ],
)
def test_openai_sdk_chat_bodies_are_valid_documented_bodies(body: dict[str, Any]) -> None:
    ChatCompletionRequest.model_validate(body)


@pytest.mark.parametrize("value", ["hi", ["a", "b"], [1, 2], [[1, 2], [3]]])
def test_every_embeddings_input_form_is_documented(value: Any) -> None:
    EmbeddingRequest.model_validate({"model": "m", "input": value})


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "prompt": "hi"},
        {
            "model": "m",
            "prompt": ["a", "b"],
            "best_of": 2,
            "echo": True,
            "logit_bias": {"50256": -100},
            "logprobs": None,
            "max_tokens": 16,
            "n": 2,
            "stop": ["\n"],
            "stream": True,
            "stream_options": {"include_usage": True},
            "suffix": None,
            "mock": {"latency_ms": 1},  # not modeled: passes through
        },
    ],
)
def test_openai_sdk_completion_bodies_are_valid_documented_bodies(body: dict[str, Any]) -> None:
    CompletionRequest.model_validate(body)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        *(("prompt", value) for value in ([1, 2], [], ["a"] * 129)),
        *(("logprobs", 1), ("suffix", "x"), ("n", 0), ("n", 129)),
    ],
)
def test_completion_fields_the_codec_refuses_are_documented_invalid(field: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        CompletionRequest.model_validate({"model": "m", "prompt": "hi", field: value})
    with pytest.raises(CodecError) as caught:
        completion_request_from_json({"model": "m", "prompt": "hi", field: value})
    assert caught.value.param == field


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "input": "hi"},
        {
            "model": "m",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c", "output": "ok"},
            ],
            "instructions": "be brief",
            "tools": [{"type": "function", "name": "f", "parameters": {}, "strict": True}],
            "tool_choice": {"type": "function", "name": "f"},
            "text": {"format": {"type": "json_schema", "name": "x", "schema": {}}},
            "max_output_tokens": 16,
            "metadata": {"k": "v"},
            "store": False,
            "stream": True,
            "truncation": "disabled",
            "include": [],
            "background": False,
            "previous_response_id": None,
            "mock": {"latency_ms": 1},  # not modeled: passes through
        },
    ],
)
def test_openai_sdk_response_bodies_are_valid_documented_bodies(body: dict[str, Any]) -> None:
    ResponseRequest.model_validate(body)
    responses_request_from_json(body)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("previous_response_id", ""),
        ("background", True),
        ("include", ["reasoning.encrypted_content"]),
        ("conversation", "conv_1"),
        ("prompt", {"id": "p"}),
        ("truncation", "auto"),
        ("input", []),
        ("max_output_tokens", 0),
    ],
)
def test_response_fields_the_codec_refuses_are_documented_invalid(field: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        ResponseRequest.model_validate({"model": "m", "input": "hi", field: value})
    with pytest.raises(CodecError) as caught:
        responses_request_from_json({"model": "m", "input": "hi", field: value})
    assert caught.value.param == field
