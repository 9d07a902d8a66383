"""ResponseService over gRPC: store once, get, delete, scoping by key, bounds."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.servicers import responses as servicer
from gateway.v1 import chat_pb2 as chat
from gateway.v1.response_service_pb2 import StoredResponse
from gateway_client import (
    AuthenticationError,
    GatewayClient,
    GatewayError,
    InvalidRequestError,
    NotFoundError,
)
from tests.core.conftest import ADMIN_KEY, ALICE_KEY, CoreHandle, start_core


@pytest.fixture
async def core() -> AsyncIterator[CoreHandle]:
    async for handle in start_core():
        yield handle


@pytest.fixture
async def alice(core: CoreHandle) -> AsyncIterator[GatewayClient]:
    async with GatewayClient(core.target, api_key=ALICE_KEY, timeout=10) as client:
        yield client


@pytest.fixture
async def admin(core: CoreHandle) -> AsyncIterator[GatewayClient]:
    async with GatewayClient(core.target, api_key=ADMIN_KEY, timeout=10) as client:
        yield client


def response(response_id: str = "resp_1", text: str = "hi") -> StoredResponse:
    return StoredResponse(
        id=response_id,
        response_json=b'{"id": "' + response_id.encode() + b'"}',
        conversation=[
            chat.Message(role=chat.ROLE_USER, text=text),
            chat.Message(role=chat.ROLE_ASSISTANT, text=f"echo: {text}"),
        ],
    )


async def test_a_stored_response_comes_back_with_its_time(alice: GatewayClient) -> None:
    stored = await alice.responses.store(response())
    assert stored.create_time.seconds > 0
    found = await alice.responses.get("resp_1")
    expected = response()
    expected.create_time.CopyFrom(stored.create_time)
    assert found == expected


async def test_an_id_is_stored_once(alice: GatewayClient, admin: GatewayClient) -> None:
    await alice.responses.store(response(text="first"))
    with pytest.raises(GatewayError) as raised:
        await admin.responses.store(response(text="second"))
    assert (raised.value.reason, raised.value.http_status) == ("response_exists", 409)
    assert (await admin.responses.get("resp_1")).conversation[0].text == "first"


async def test_another_key_finds_nothing_the_admin_finds_all(
    core: CoreHandle, alice: GatewayClient, admin: GatewayClient
) -> None:
    await admin.responses.store(response("resp_admin"))
    await alice.responses.store(response("resp_alice"))
    with pytest.raises(NotFoundError) as raised:
        await alice.responses.get("resp_admin")
    assert raised.value.reason == "response_not_found"
    with pytest.raises(NotFoundError):
        await alice.responses.delete("resp_admin")
    assert (await admin.responses.get("resp_alice")).id == "resp_alice"
    await admin.responses.delete("resp_alice")
    with pytest.raises(NotFoundError):
        await alice.responses.get("resp_alice")
    assert await core.store.get_response("resp_admin") is not None


async def test_delete_twice_is_not_found(alice: GatewayClient) -> None:
    await alice.responses.store(response())
    await alice.responses.delete("resp_1")
    with pytest.raises(NotFoundError):
        await alice.responses.delete("resp_1")


@pytest.mark.parametrize("bad_id", ["", "x" * 257, "caf\u00e9", "tab\there"])
async def test_ids_must_be_short_printable_ascii(alice: GatewayClient, bad_id: str) -> None:
    with pytest.raises(InvalidRequestError) as stored:
        await alice.responses.store(response(bad_id))
    assert stored.value.param == "response.id"
    with pytest.raises(InvalidRequestError) as got:
        await alice.responses.get(bad_id)
    assert got.value.param == "id"


async def test_a_response_over_the_limit_is_413_and_not_stored(
    alice: GatewayClient, core: CoreHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(servicer, "MAX_STORED_BYTES", 1024)
    with pytest.raises(InvalidRequestError) as raised:
        await alice.responses.store(response(text="x" * 2000))
    assert (raised.value.http_status, raised.value.param) == (413, "response")
    assert await core.store.get_response("resp_1") is None


async def test_no_key_no_answer(core: CoreHandle) -> None:
    async with GatewayClient(core.target, api_key="not-a-key", timeout=10) as client:
        with pytest.raises(AuthenticationError):
            await client.responses.get("resp_1")
