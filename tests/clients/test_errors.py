"""The gRPC status -> GatewayError table, with and without ErrorInfo details."""

from __future__ import annotations

import grpc
import pytest

import gateway_client as gc
from gateway.v1 import chat_pb2
from gateway_client import GatewayClient, GatewayError, from_rpc_error
from tests.clients.fake_core import FakeCore


def _params(model: str) -> chat_pb2.ChatParams:
    return chat_pb2.ChatParams(
        model=model, messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, text="hi")]
    )


@pytest.mark.parametrize(
    ("code", "reason", "http_status", "param", "cls"),
    [
        ("INVALID_ARGUMENT", "invalid_request", 400, "temperature", gc.InvalidRequestError),
        ("INVALID_ARGUMENT", "payload_too_large", 413, None, gc.InvalidRequestError),
        ("UNAUTHENTICATED", "invalid_api_key", 401, None, gc.AuthenticationError),
        ("PERMISSION_DENIED", "permission_denied", 403, None, gc.PermissionDeniedError),
        ("NOT_FOUND", "model_not_found", 404, "model", gc.NotFoundError),
        ("RESOURCE_EXHAUSTED", "rate_limited", 429, None, gc.RateLimitError),
        ("UNAVAILABLE", "upstream_error", 502, None, gc.UpstreamUnavailableError),
        ("DEADLINE_EXCEEDED", "upstream_timeout", 504, None, gc.DeadlineExceededError),
        ("FAILED_PRECONDITION", "upstream_rejected", 418, None, gc.FailedPreconditionError),
        ("ABORTED", "upstream_rejected", 409, None, gc.AbortedError),
        ("INTERNAL", "internal", 500, None, gc.InternalError),
        ("UNIMPLEMENTED", "unimplemented", 501, None, gc.UnimplementedError),
        ("CANCELLED", "cancelled", 499, None, gc.CallCancelledError),
    ],
)
async def test_error_info_gives_reason_http_status_and_param(
    client: GatewayClient,
    code: str,
    reason: str,
    http_status: int,
    param: str | None,
    cls: type[GatewayError],
) -> None:
    model = f"fail/{code}/{reason}/{http_status}" + (f"/{param}" if param else "")
    with pytest.raises(cls) as caught:
        await client.route(_params(model))
    err = caught.value
    assert type(err) is cls
    assert err.grpc_code == grpc.StatusCode[code]
    assert err.reason == reason
    assert err.http_status == http_status
    assert err.param == param
    assert err.message == f"{reason} happened"
    assert err.metadata["http_status"] == str(http_status)
    assert isinstance(err.__cause__, grpc.aio.AioRpcError)


async def test_rate_limit_keeps_retry_after_metadata(client: GatewayClient) -> None:
    with pytest.raises(gc.RateLimitError) as caught:
        await client.route(_params("fail/RESOURCE_EXHAUSTED/rate_limited/429"))
    assert caught.value.metadata["retry_after_seconds"] == "7"


@pytest.mark.parametrize(
    ("code", "cls", "http_status"),
    [
        ("INVALID_ARGUMENT", gc.InvalidRequestError, 400),
        ("UNAUTHENTICATED", gc.AuthenticationError, 401),
        ("PERMISSION_DENIED", gc.PermissionDeniedError, 403),
        ("NOT_FOUND", gc.NotFoundError, 404),
        ("UNAVAILABLE", gc.UpstreamUnavailableError, 503),
        ("DEADLINE_EXCEEDED", gc.DeadlineExceededError, 504),
        ("UNIMPLEMENTED", gc.UnimplementedError, 501),
        ("INTERNAL", gc.InternalError, 500),
        ("UNKNOWN", gc.InternalError, 500),
        ("DATA_LOSS", gc.InternalError, 500),
        ("OUT_OF_RANGE", gc.InternalError, 500),
    ],
)
# A bare RESOURCE_EXHAUSTED is never a rate limit: see test_message_size.py.
async def test_without_details_http_status_comes_from_the_code(
    client: GatewayClient, code: str, cls: type[GatewayError], http_status: int
) -> None:
    with pytest.raises(cls) as caught:
        await client.route(_params(f"bare/{code}"))
    err = caught.value
    assert type(err) is cls
    assert err.grpc_code == grpc.StatusCode[code]
    assert err.http_status == http_status
    assert err.reason == code.lower()
    assert err.message == f"bare {code}"
    assert err.param is None
    assert err.metadata == {}


async def test_unreachable_core_is_unavailable() -> None:
    # Port 9 (discard) on localhost is closed; wait_for_ready is off, so this fails fast.
    async with GatewayClient("127.0.0.1:9", timeout=10) as client:
        with pytest.raises(gc.UpstreamUnavailableError) as caught:
            await client.list_models()
    assert caught.value.http_status == 503
    assert caught.value.reason == "unavailable"


def test_garbled_details_fall_back_to_the_code() -> None:
    trailing = grpc.aio.Metadata(("grpc-status-details-bin", b"\xff\xff not a status"))
    err = from_rpc_error(grpc.aio.AioRpcError(grpc.StatusCode.NOT_FOUND, None, trailing, "gone"))
    assert isinstance(err, gc.NotFoundError)
    assert (err.http_status, err.reason, err.message) == (404, "not_found", "gone")


def test_unusable_http_status_falls_back_to_the_code() -> None:
    from google.protobuf import any_pb2
    from google.rpc import error_details_pb2, status_pb2

    info = error_details_pb2.ErrorInfo(reason="odd", metadata={"http_status": "teapot"})
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(code=14, message="x", details=[detail])
    trailing = grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString()))
    err = from_rpc_error(grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, None, trailing, None))
    assert isinstance(err, gc.UpstreamUnavailableError)
    assert (err.http_status, err.reason, err.message) == (503, "odd", "UNAVAILABLE")


def test_error_repr_names_class_reason_and_status() -> None:
    err = gc.NotFoundError("no such model", reason="model_not_found")
    assert repr(err) == "NotFoundError('no such model', reason='model_not_found', http_status=404)"
    assert str(err) == "no such model"


async def test_calls_before_opening_raise(core: FakeCore) -> None:
    client = GatewayClient("127.0.0.1:1")
    with pytest.raises(RuntimeError, match="not open"):
        await client.list_models()
