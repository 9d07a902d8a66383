"""GatewayClient against a real grpc.aio server: results, metadata, deadlines."""

from __future__ import annotations

import pytest

from gateway.v1 import chat_pb2, route_service_pb2 as pb
from gateway_client import (
    AuthenticationError,
    DeadlineExceededError,
    GatewayClient,
    InvalidRequestError,
    RouteResult,
)
from tests.clients.fake_core import REQUEST_ID, FakeCore


def _params(model: str = "echo", text: str = "hello there world") -> chat_pb2.ChatParams:
    return chat_pb2.ChatParams(
        model=model, messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, text=text)]
    )


async def test_route_returns_result_request_id_and_resolved_model(
    client: GatewayClient, core: FakeCore
) -> None:
    answer = await client.route(_params(text="ping"), metadata={"app": "booking-bot"})
    assert isinstance(answer, RouteResult)
    assert answer.request_id == REQUEST_ID
    assert answer.resolved_model == "mock-main/echo"
    assert answer.result.choices[0].message.text == "ping"
    assert answer.result.id == f"chatcmpl-{REQUEST_ID}"
    assert core.last.method == "Route"
    assert dict(core.last.request.metadata) == {"app": "booking-bot"}
    assert core.last.request.params.model == "echo"


async def test_default_key_is_sent_as_bearer(client: GatewayClient, core: FakeCore) -> None:
    await client.route(_params())
    assert core.last.metadata["authorization"] == "Bearer sk-default"
    assert "x-request-id" not in core.last.metadata


async def test_per_call_key_and_request_id_override(client: GatewayClient, core: FakeCore) -> None:
    answer = await client.route(_params(), api_key="sk-caller", request_id="my-id-1")
    assert core.last.metadata["authorization"] == "Bearer sk-caller"
    assert core.last.metadata["x-request-id"] == "my-id-1"
    assert answer.request_id == "my-id-1"


async def test_no_key_sends_no_authorization(core_server: tuple[FakeCore, str]) -> None:
    core, target = core_server
    async with GatewayClient(target) as client:
        await client.list_models()
    assert "authorization" not in core.last.metadata


async def test_list_models(client: GatewayClient) -> None:
    models = await client.list_models()
    assert [m.id for m in models] == ["mock-main/echo", "mock-main/embed"]
    assert models[0].provider_account == "mock-main"
    assert models[1].kind == pb.MODEL_KIND_EMBEDDING


async def test_embed_merges_metadata_without_touching_the_request(
    client: GatewayClient, core: FakeCore
) -> None:
    request = pb.EmbedRequest(model="embed", inputs=["a", "bcd"], metadata={"team": "x"})
    response = await client.embed(request, metadata={"app": "y"}, api_key="sk-2")
    assert [list(e.values) for e in response.embeddings] == [[0.5, 1.0], [0.5, 3.0]]
    assert dict(core.last.request.metadata) == {"team": "x", "app": "y"}
    assert dict(request.metadata) == {"team": "x"}
    assert core.last.metadata["authorization"] == "Bearer sk-2"


async def test_deadline_exceeded_maps_to_504(client: GatewayClient) -> None:
    with pytest.raises(DeadlineExceededError) as caught:
        await client.route(_params("slow"), timeout=0.05)
    assert caught.value.http_status == 504
    assert caught.value.reason == "deadline_exceeded"


async def test_client_default_deadline_applies(core_server: tuple[FakeCore, str]) -> None:
    async with GatewayClient(core_server[1], timeout=0.05) as client:
        with pytest.raises(DeadlineExceededError):
            await client.route(_params("slow"))


async def test_client_reopens_only_after_closing(core_server: tuple[FakeCore, str]) -> None:
    client = GatewayClient(core_server[1])
    async with client:
        with pytest.raises(RuntimeError, match="already open"):
            await client.__aenter__()
    async with client:
        assert len(await client.list_models()) == 2


@pytest.mark.parametrize("key", ["k\u00e9y", "a\x01b", "line\nbreak"])
async def test_key_a_header_cannot_carry_is_refused_before_calling(
    client: GatewayClient, core: FakeCore, key: str
) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await client.list_models(api_key=key)
    assert (caught.value.reason, caught.value.http_status) == ("invalid_api_key", 401)
    assert core.calls == []


async def test_request_id_a_header_cannot_carry_is_refused(
    client: GatewayClient, core: FakeCore
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        client.stream_route(_params(), request_id="r\u00e9")
    assert caught.value.param == "request_id"
    assert core.calls == []
