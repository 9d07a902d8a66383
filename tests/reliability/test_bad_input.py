"""Hostile input through the whole gateway (uvicorn, facade, core, store; real sockets).

Each kind of input that used to answer a 500, drop the connection, store garbage or name an
exception class now gets a 4xx in the API's own error shape (gRPC: INVALID_ARGUMENT), and the
same connection serves the next request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import httpx
import orjson
import pytest

from codec import chat_params_from_json
from codec.depth import MAX_JSON_DEPTH
from core.logs.query import MAX_CONDITIONS
from core.metadata import MAX_KEYS
from facade.header_limits import MAX_HEADER_BYTES
from gateway.v1 import route_service_pb2 as pb, route_service_pb2_grpc as pb_grpc
from tests.conftest import MOCK_CONFIG
from tests.facade.envelope import error_of
from tests.harness import RunningGateway, run_gateway
from tests.logapi.conftest import REQUESTS_PATH

CHAT = "/v1/chat/completions"
EMBEDDINGS = "/v1/embeddings"
METRICS_PATH = "/api/svc/v1/llm-gateway/metrics/query"
USER = [{"role": "user", "content": "hi"}]
BODY = {"model": "mock-main/echo", "messages": USER}
ROUTE = "/gateway.v1.RouteService/Route"


def nest(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


def deep_json(levels: int) -> bytes:
    """`levels` nested objects as JSON text (json.dumps itself recurses, past 1,000 levels)."""
    return b'{"a":' * levels + b"1" + b"}" * levels


def tools_body(parameters: bytes) -> bytes:
    head = b'{"model":"mock-main/echo","messages":[{"role":"user","content":"hi"}],'
    return (
        head
        + b'"tools":[{"type":"function","function":{"name":"f","parameters":'
        + (parameters + b"}}]}")
    )


@pytest.fixture
async def http(gateway: RunningGateway) -> AsyncIterator[httpx.AsyncClient]:
    # One connection for the whole test: every refusal must leave it usable.
    limits = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(
        base_url=gateway.http_url,
        headers={"authorization": f"Bearer {gateway.admin_key}"},
        limits=limits,
        timeout=30,
    ) as client:
        yield client


async def _still_serves(http: httpx.AsyncClient) -> None:
    response = await http.post(CHAT, json=BODY)
    assert response.status_code == 200, response.text


def _assert_depth_error(response: httpx.Response, param: str | None) -> None:
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "invalid_request",
        param,
    )
    assert f"at most {MAX_JSON_DEPTH} levels" in error["message"]
    assert "Error" not in error["message"]  # DecodeError, RecursionError: never shown


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH - 3, 49, 100, 900, 1_019])
async def test_deep_tool_parameters_are_a_400_naming_them(
    http: httpx.AsyncClient, levels: int
) -> None:
    # levels + 4 (body, tools, tool, function) is one over the limit at the least, and at
    # the most the 1,024 levels orjson parses.
    response = await http.post(CHAT, content=tools_body(deep_json(levels)))
    _assert_depth_error(response, "tools[0].function.parameters")
    await _still_serves(http)


async def test_a_body_deeper_than_the_json_parser_goes_is_a_400(http: httpx.AsyncClient) -> None:
    response = await http.post(CHAT, content=tools_body(deep_json(1_100)))
    _assert_depth_error(response, None)
    await _still_serves(http)


async def test_the_deepest_body_allowed_is_answered(http: httpx.AsyncClient) -> None:
    response = await http.post(CHAT, content=tools_body(deep_json(MAX_JSON_DEPTH - 4)))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        (
            CHAT,
            {
                **BODY,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "s", "schema": nest(60)},
                },
            },
            "response_format.json_schema.schema.a",
        ),
        (CHAT, {**BODY, "metadata": {"k": nest(60)}}, "metadata.k.a.a"),
        (EMBEDDINGS, {"model": "mock-main/embed", "input": "x", "x": nest(60)}, "x.a.a.a"),
        (REQUESTS_PATH, {"filter": {"user": [{"value": nest(60)}]}}, "filter.user[0].value"),
    ],
)
async def test_deep_values_anywhere_are_a_400(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], param: str
) -> None:
    _assert_depth_error(await http.post(path, json=body), param)
    await _still_serves(http)


async def test_a_4_mb_metadata_header_is_a_431(http: httpx.AsyncClient) -> None:
    metadata = orjson.dumps({f"key-{i:05d}-" + "k" * 120: "v" for i in range(30_000)})
    assert len(metadata) > 4_000_000
    response = await http.post(CHAT, json=BODY, headers={"x-tfy-metadata": metadata.decode()})
    assert response.status_code == 431
    error = error_of(response)
    assert (error["type"], error["code"]) == ("invalid_request_error", "request_headers_too_large")
    assert str(MAX_HEADER_BYTES) in error["message"]


async def test_metadata_key_count_and_lengths_are_capped(http: httpx.AsyncClient) -> None:
    most = {f"key{i:02d}": "v" * 128 for i in range(MAX_KEYS)}
    response = await http.post(
        CHAT, json=BODY, headers={"x-tfy-metadata": orjson.dumps(most).decode()}
    )
    assert response.status_code == 200, response.text
    for bad, named in [
        ({**most, "one-more": "v"}, "'one-more'"),
        ({"k" * 5_000: "v"}, "longer than 128"),
        ({"": "v"}, "must not be empty"),
    ]:
        response = await http.post(
            CHAT, json=BODY, headers={"x-tfy-metadata": orjson.dumps(bad).decode()}
        )
        assert response.status_code == 400
        error = error_of(response)
        assert (error["code"], error["param"]) == ("invalid_metadata", "X-TFY-METADATA")
        assert named in error["message"]


@pytest.fixture(scope="module")
def split() -> Iterator[RunningGateway]:
    """A facade reaching core over a gRPC socket, where call metadata has size limits."""
    with run_gateway(MOCK_CONFIG, facade_transport="grpc") as running:
        yield running


@pytest.mark.parametrize(
    ("metadata", "status"),
    [
        # The largest valid metadata: about 17 KB, over gRPC's default limits (8 and 16 KiB).
        ({f"key{i:02d}" + "k" * 123: "v" * 128 for i in range(MAX_KEYS)}, 200),
        # Just under the header cap: core still reads it and names the key at fault.
        ({"k": "v" * 60_000}, 400),
    ],
)
async def test_metadata_up_to_the_header_cap_reaches_core_over_grpc(
    split: RunningGateway, metadata: dict[str, str], status: int
) -> None:
    header = orjson.dumps(metadata).decode()
    async with httpx.AsyncClient(
        base_url=split.http_url, headers={"authorization": f"Bearer {split.admin_key}"}
    ) as http:
        for _ in range(5):  # gRPC refused some calls over its soft limit at random
            response = await http.post(CHAT, json=BODY, headers={"x-tfy-metadata": header})
            assert response.status_code == status, response.text
    if status == 400:
        assert "'k'" in error_of(response)["message"]


async def test_log_queries_refuse_nul_and_too_many_conditions(http: httpx.AsyncClient) -> None:
    await _still_serves(http)  # at least one record in scope
    nul = {"filter": {"user": [{"key": "user", "operator": "CONTAINS", "value": "\u0000"}]}}
    response = await http.post(REQUESTS_PATH, json=nul)
    assert response.status_code == 400
    assert error_of(response)["param"] == "filter.user[0].value"
    many = {"filter": {"latency_ms": [{"operator": "GT", "value": i} for i in range(500)]}}
    response = await http.post(REQUESTS_PATH, json=many)
    assert response.status_code == 400
    error = error_of(response)
    assert error["param"] == "filter"
    assert f"at most {MAX_CONDITIONS}" in error["message"]
    metrics = {"start_time": 0, **many}
    response = await http.post(METRICS_PATH, json=metrics)
    assert response.status_code == 400
    assert error_of(response)["param"] == "filter"


async def test_options_on_the_keys_path_allows_get_and_post(http: httpx.AsyncClient) -> None:
    response = await http.options("/api/svc/v1/keys")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert error_of(response)["code"] == "method_not_allowed"


def _auth(gateway: RunningGateway) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {gateway.admin_key}"),)


@pytest.mark.parametrize(
    "method",
    [ROUTE, "/gateway.v1.RouteService/StreamRoute", "/gateway.v1.RouteService/Embed"],
)
async def test_garbage_bytes_over_grpc_are_invalid_argument(
    gateway: RunningGateway, method: str
) -> None:
    async with grpc.aio.insecure_channel(gateway.grpc_target) as channel:
        if method.endswith("StreamRoute"):
            stream: Any = channel.unary_stream(method, request_serializer=None)
            call: Any = stream(b"\xff\xff garbage", metadata=_auth(gateway))
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                async for _ in call:
                    pass
        else:
            unary: Any = channel.unary_unary(method, request_serializer=None)
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await unary(b"\xff\xff garbage", metadata=_auth(gateway))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = raised.value.details() or ""
    assert "cannot be decoded" in details
    assert "DecodeError" not in details


async def test_grpc_checks_the_key_before_the_bytes(gateway: RunningGateway) -> None:
    async with grpc.aio.insecure_channel(gateway.grpc_target) as channel:
        unary: Any = channel.unary_unary(ROUTE, request_serializer=None)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await unary(b"\xff\xff garbage", metadata=(("authorization", "Bearer nope"),))
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_struct_deeper_than_protobuf_decodes_is_invalid_argument(
    gateway: RunningGateway,
) -> None:
    ok = pb.RouteRequest(params=chat_params_from_json(BODY))
    deep = pb.RouteRequest()
    deep.CopyFrom(ok)
    # Filled in place: wrapping would copy it, which fails client-side already.
    deep.params.extras.update({"x": nest(60)})
    async with grpc.aio.insecure_channel(gateway.grpc_target) as channel:
        stub = pb_grpc.RouteServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.Route(deep, metadata=_auth(gateway))
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "100 levels" in (raised.value.details() or "")
        answer = await stub.Route(ok, metadata=_auth(gateway))
    assert answer.result.choices
