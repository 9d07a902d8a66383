"""ChatStream: start(), iteration, errors before and after the first event, cancellation."""

from __future__ import annotations

import pytest

from gateway.v1 import chat_pb2, route_service_pb2 as pb
from gateway_client import (
    CallCancelledError,
    DeadlineExceededError,
    GatewayClient,
    NotFoundError,
    StreamInfo,
    UpstreamUnavailableError,
)
from tests.clients.fake_core import REQUEST_ID, FakeCore


def _params(model: str = "echo", text: str = "one two three four") -> chat_pb2.ChatParams:
    return chat_pb2.ChatParams(
        model=model, messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, text=text)]
    )


async def _drain(stream: object) -> list[pb.StreamRouteResponse]:
    return [event async for event in stream]  # type: ignore[attr-defined]


async def test_start_then_iterate_deltas_and_one_result(
    client: GatewayClient, core: FakeCore
) -> None:
    async with client.stream_route(_params(), metadata={"k": "v"}, request_id="abc") as stream:
        assert stream.info is None
        info = await stream.start()
        assert info == StreamInfo(
            request_id="abc",
            resolved_model="mock-main/echo",
            headers={"x-tfy-resolved-model": "mock-main/echo"},
        )
        assert await stream.start() is info
        assert stream.info is info
        events = await _drain(stream)
    assert [e.delta.content for e in events[:-1]] == ["one", " two", " three", " four"]
    assert events[-1].result.choices[0].message.text == "one two three four"
    assert core.last.method == "StreamRoute"
    assert dict(core.last.request.metadata) == {"k": "v"}
    assert core.last.metadata["authorization"] == "Bearer sk-default"


async def test_start_raises_the_typed_error_of_an_early_failure(client: GatewayClient) -> None:
    async with client.stream_route(_params("fail/NOT_FOUND/model_not_found/404/model")) as stream:
        with pytest.raises(NotFoundError) as caught:
            await stream.start()
    err = caught.value
    assert (err.reason, err.http_status, err.param) == ("model_not_found", 404, "model")
    assert err.message == "model_not_found happened"


async def test_start_maps_an_early_deadline(client: GatewayClient) -> None:
    async with client.stream_route(_params("slow"), timeout=0.05) as stream:
        with pytest.raises(DeadlineExceededError):
            await stream.start()


async def test_error_after_start_raises_while_iterating(client: GatewayClient) -> None:
    async with client.stream_route(_params("cut")) as stream:
        await stream.start()
        assert (await anext(stream)).delta.content == "one"
        assert (await anext(stream)).delta.content == " two"
        with pytest.raises(UpstreamUnavailableError) as caught:
            await anext(stream)
    assert (caught.value.reason, caught.value.http_status) == ("upstream_stream_cut", 502)


async def test_iterating_without_start_works(client: GatewayClient) -> None:
    async with client.stream_route(_params(text="a b")) as stream:
        events = await _drain(stream)
    assert [e.WhichOneof("event") for e in events] == ["delta", "delta", "result"]


async def test_cancel_cancels_the_server_call(client: GatewayClient, core: FakeCore) -> None:
    async with client.stream_route(_params("hang")) as stream:
        info = await stream.start()
        assert info.request_id == REQUEST_ID
        first = await anext(stream)
        assert first.delta.content == "one"
        assert stream.cancel() is True
        await core.cancelled.wait()
        with pytest.raises(CallCancelledError) as caught:
            await anext(stream)
        assert caught.value.http_status == 499
        assert stream.cancel() is False


async def test_leaving_the_block_early_cancels(client: GatewayClient, core: FakeCore) -> None:
    async with client.stream_route(_params("hang")) as stream:
        async for _ in stream:
            break
    await core.cancelled.wait()
