"""Request messages that do not decode: INVALID_ARGUMENT after the key check, never UNKNOWN."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from core.errors import InvalidRequest
from core.interceptors import Undecodable, lenient
from gateway.v1 import log_service_pb2, route_service_pb2 as pb
from tests.core.conftest import ALICE_KEY, CoreHandle, auth

GARBAGE = b"\xff\xff garbage"


def _deep_request() -> bytes:
    request = pb.RouteRequest()
    value: Any = "x"
    for _ in range(60):
        value = {"a": value}
    request.params.extras.update({"x": value})  # in place: a copy would parse, and fail
    return request.SerializeToString()


def test_lenient_passes_good_messages_through() -> None:
    parse = lenient(pb.RouteRequest.FromString, "/m")
    assert parse is not None
    request = pb.RouteRequest()
    request.params.model = "a/b"
    assert parse(request.SerializeToString()) == request


@pytest.mark.parametrize(
    ("data", "why"),
    [(GARBAGE, "its bytes are not a protobuf message"), (_deep_request(), "100 levels deep")],
)
def test_lenient_turns_decode_errors_into_invalid_requests(data: bytes, why: str) -> None:
    parse = lenient(pb.RouteRequest.FromString, "/gateway.v1.RouteService/Route")
    assert parse is not None
    found = parse(data)
    assert isinstance(found, Undecodable)
    assert isinstance(found.error, InvalidRequest)
    assert found.error.message.startswith(
        "the request message of /gateway.v1.RouteService/Route cannot be decoded: "
    )
    assert why in found.error.message
    assert "upb" not in found.error.message


@pytest.mark.parametrize(
    "method",
    [
        "/gateway.v1.RouteService/Route",
        "/gateway.v1.RouteService/Embed",
        "/gateway.v1.LogService/ListLogs",
        "/gateway.v1.MetricsService/QueryMetrics",
        "/gateway.v1.KeyService/ListKeys",
    ],
)
async def test_every_unary_rpc_answers_invalid_argument(core: CoreHandle, method: str) -> None:
    async with grpc.aio.insecure_channel(core.target) as channel:
        call: Any = channel.unary_unary(method, request_serializer=None)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call(GARBAGE, metadata=auth())
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert method in (raised.value.details() or "")


async def test_streaming_rpc_answers_invalid_argument(core: CoreHandle) -> None:
    async with grpc.aio.insecure_channel(core.target) as channel:
        call: Any = channel.unary_stream(
            "/gateway.v1.RouteService/StreamRoute", request_serializer=None
        )
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            async for _ in call(_deep_request(), metadata=auth(ALICE_KEY)):
                pass
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "100 levels deep" in (raised.value.details() or "")


async def test_the_key_is_checked_before_the_message(core: CoreHandle) -> None:
    async with grpc.aio.insecure_channel(core.target) as channel:
        call: Any = channel.unary_unary("/gateway.v1.RouteService/Route", request_serializer=None)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call(GARBAGE)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_good_message_still_decodes(core: CoreHandle) -> None:
    async with grpc.aio.insecure_channel(core.target) as channel:
        call = channel.unary_unary(
            "/gateway.v1.LogService/ListLogs",
            request_serializer=log_service_pb2.ListLogsRequest.SerializeToString,
            response_deserializer=log_service_pb2.ListLogsResponse.FromString,
        )
        page = await call(log_service_pb2.ListLogsRequest(), metadata=auth())
    assert page.total_size == 0
