"""gRPC message size limits: one setting both ways, and size failures that are never 429s.

grpc reports a message over `grpc.max_*_message_length` as RESOURCE_EXHAUSTED, the code of
core's rate limits too; only core's carry ErrorInfo. Each side and direction is driven here
through a real server and channel, so a grpc upgrade that rewords its errors fails these.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

import gateway_client as gc
from gateway.v1 import chat_pb2
from gateway_client import GatewayClient, from_rpc_error
from tests.clients.fake_core import FakeCore, start_fake_core

LIMIT = 64 * 1024


def _params(model: str, text: str = "hi") -> chat_pb2.ChatParams:
    return chat_pb2.ChatParams(
        model=model, messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, text=text)]
    )


async def _serve(limit: int) -> AsyncIterator[tuple[FakeCore, str]]:
    server, core, target = await start_fake_core(
        [
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
        ]
    )
    try:
        yield core, target
    finally:
        await server.stop(None)


@pytest.fixture
async def small_server() -> AsyncIterator[tuple[FakeCore, str]]:
    """A FakeCore that receives and sends at most LIMIT bytes per message."""
    async for served in _serve(LIMIT):
        yield served


@pytest.fixture
async def gateway_sized_server() -> AsyncIterator[tuple[FakeCore, str]]:
    """A FakeCore with the gateway's default limit, as core is built."""
    async for served in _serve(gc.DEFAULT_MAX_MESSAGE_BYTES):
        yield served


async def test_the_default_limit_takes_answers_over_grpcs_4_mib(
    core_server: tuple[FakeCore, str],
) -> None:
    size = 5 * 1024 * 1024
    async with GatewayClient(core_server[1], timeout=10) as client:
        answer = await client.route(_params(f"big/{size}"))
    assert len(answer.result.choices[0].message.text) == size


async def test_an_answer_over_the_clients_limit_is_response_too_large(
    core_server: tuple[FakeCore, str],
) -> None:
    async with GatewayClient(core_server[1], timeout=10, max_message_bytes=LIMIT) as client:
        with pytest.raises(gc.ResponseTooLargeError) as caught:
            await client.route(_params(f"big/{2 * LIMIT}"))
    err = caught.value
    assert not isinstance(err, gc.RateLimitError)
    assert (err.http_status, err.reason, err.limit_bytes) == (502, "response_too_large", LIMIT)
    assert err.grpc_code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert err.message_bytes is not None
    assert err.message_bytes > LIMIT
    assert "Retrying will not help" in err.message
    assert f"over the limit of {LIMIT} bytes" in err.message


async def test_an_answer_over_the_servers_limit_is_response_too_large(
    small_server: tuple[FakeCore, str],
) -> None:
    async with GatewayClient(small_server[1], timeout=10) as client:
        with pytest.raises(gc.ResponseTooLargeError) as caught:
            await client.route(_params(f"big/{2 * LIMIT}"))
    assert (caught.value.http_status, caught.value.limit_bytes) == (502, LIMIT)


async def test_a_request_over_the_clients_limit_is_request_too_large(
    core_server: tuple[FakeCore, str],
) -> None:
    core = core_server[0]
    async with GatewayClient(core_server[1], timeout=10, max_message_bytes=LIMIT) as client:
        with pytest.raises(gc.RequestTooLargeError) as caught:
            await client.route(_params("echo", "x" * (2 * LIMIT)))
    err = caught.value
    assert (err.http_status, err.reason, err.limit_bytes) == (413, "payload_too_large", LIMIT)
    assert isinstance(err, gc.MessageTooLargeError)
    assert core.calls == []  # refused before it left


async def test_a_request_over_the_servers_limit_is_request_too_large(
    small_server: tuple[FakeCore, str],
) -> None:
    async with GatewayClient(small_server[1], timeout=10) as client:
        with pytest.raises(gc.RequestTooLargeError) as caught:
            await client.route(_params("echo", "x" * (2 * LIMIT)))
    assert (caught.value.http_status, caught.value.limit_bytes) == (413, LIMIT)


async def test_a_stream_whose_result_is_over_the_limit_fails_after_its_deltas(
    core_server: tuple[FakeCore, str],
) -> None:
    async with GatewayClient(core_server[1], timeout=10, max_message_bytes=LIMIT) as client:
        stream = client.stream_route(_params(f"big/{2 * LIMIT}", "small delta"))
        await stream.start()
        deltas: list[str] = []

        async def read_all() -> None:
            async for event in stream:
                deltas.append(event.delta.content)

        with pytest.raises(gc.ResponseTooLargeError):
            await read_all()
    assert "".join(deltas) == "small delta"


async def test_a_stream_of_many_messages_over_4_mib_in_total_ends_normally(
    gateway_sized_server: tuple[FakeCore, str],
) -> None:
    # 600 words of 10 KB: each delta is small, the whole (and the final result) is ~6 MB.
    text = " ".join(["y" * 10_000] * 600)
    async with GatewayClient(gateway_sized_server[1], timeout=30) as client:
        stream = client.stream_route(_params("echo", text))
        events = [event async for event in stream]
    assert "".join(e.delta.content for e in events[:-1]) == text
    assert events[-1].result.choices[0].message.text == text


async def test_explicit_channel_options_win(core_server: tuple[FakeCore, str]) -> None:
    options = [("grpc.max_receive_message_length", LIMIT)]
    async with GatewayClient(core_server[1], timeout=10, channel_options=options) as client:
        with pytest.raises(gc.ResponseTooLargeError):
            await client.route(_params(f"big/{2 * LIMIT}"))


def test_max_message_bytes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_message_bytes must be 1 or more"):
        GatewayClient("127.0.0.1:1", max_message_bytes=0)


def _bare(details: str) -> gc.GatewayError:
    return from_rpc_error(
        grpc.aio.AioRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, None, None, details)
    )


@pytest.mark.parametrize(
    ("details", "cls", "status"),
    [
        ("Stream removed (CLIENT: Received message larger than max (9 vs. 5))", "Response", 502),
        ("SERVER: Sent message larger than max (9 vs. 5)", "Response", 502),
        ("CLIENT: Sent message larger than max (9 vs. 5)", "Request", 413),
        ("SERVER: Received message larger than max (9 vs. 5)", "Request", 413),
        # Older grpc releases named no side: a client receives answers and sends requests.
        ("Received message larger than max (9 vs. 5)", "Response", 502),
        ("Sent message larger than max (9 vs. 5)", "Request", 413),
    ],
)
def test_grpcs_size_errors_by_side_and_direction(details: str, cls: str, status: int) -> None:
    err = _bare(details)
    assert type(err) is getattr(gc, f"{cls}TooLargeError")
    assert isinstance(err, gc.MessageTooLargeError)
    assert err.http_status == status
    assert (err.message_bytes, err.limit_bytes) == (9, 5)
    assert err.metadata == {}


async def test_any_other_bare_resource_exhausted_is_503_not_a_rate_limit(
    client: GatewayClient,
) -> None:
    # Core's rate limits carry ErrorInfo; without it, grpc ran short of something itself.
    with pytest.raises(gc.UpstreamUnavailableError) as caught:
        await client.route(_params("bare/RESOURCE_EXHAUSTED"))
    err = caught.value
    assert (err.http_status, err.reason) == (503, "resource_exhausted")
    assert err.grpc_code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert err.message.endswith("bare RESOURCE_EXHAUSTED")
