"""KeyService and the access rules over gRPC, against a real core and SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from core.recording import CallContext, CallTrace, NullRecorder
from gateway.v1 import chat_pb2 as chat
from gateway.v1.route_service_pb2 import EmbedRequest
from gateway_client import (
    AuthenticationError,
    GatewayClient,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from tests.core.conftest import ADMIN_KEY, ALICE_KEY, CoreHandle, start_core


class SeeingRecorder:
    """Keeps the context of every call, as the log pipeline receives it."""

    def __init__(self) -> None:
        self.seen: list[CallContext] = []
        self._null = NullRecorder()

    def chat(self, context: CallContext, params: chat.ChatParams) -> CallTrace:
        self.seen.append(context)
        return self._null.chat(context, params)

    def embed(self, context: CallContext, request: EmbedRequest) -> CallTrace:
        self.seen.append(context)
        return self._null.embed(context, request)


@pytest.fixture
def recorder() -> SeeingRecorder:
    return SeeingRecorder()


@pytest.fixture
async def core(recorder: SeeingRecorder) -> AsyncIterator[CoreHandle]:
    async for handle in start_core(recorder=recorder):
        yield handle


@pytest.fixture
async def admin(core: CoreHandle) -> AsyncIterator[GatewayClient]:
    async with GatewayClient(core.target, api_key=ADMIN_KEY, timeout=10) as client:
        yield client


def params(model: str = "mock-main/echo") -> chat.ChatParams:
    return chat.ChatParams(model=model, messages=[chat.Message(role=chat.ROLE_USER, text="hi")])


async def test_admin_manages_keys_over_grpc(admin: GatewayClient) -> None:
    created = await admin.keys.create(
        "user:alice@example.com", teams=["ml"], admin_teams=["ops"], models=["mock-main/echo"]
    )
    key = created.api_key
    assert created.secret.startswith("gw-")
    assert key.prefix == created.secret[:10]
    assert (list(key.teams), list(key.admin_teams)) == (["team:ml", "team:ops"], ["team:ops"])
    assert key.create_time.seconds > 0
    assert not key.HasField("revoke_time")
    listed = await admin.keys.list(subject="user:alice@example.com")
    assert [k.id for k in listed] == [key.id]
    assert created.secret not in str(listed)
    rotated = await admin.keys.rotate(key.id)
    assert rotated.api_key.id == key.id
    assert rotated.secret != created.secret
    with pytest.raises(AuthenticationError):
        await admin.route(params(), api_key=created.secret)
    assert (await admin.route(params(), api_key=rotated.secret)).resolved_model == "mock-main/echo"
    revoked = await admin.keys.revoke(key.id)
    assert revoked.HasField("revoke_time")
    with pytest.raises(AuthenticationError):
        await admin.route(params(), api_key=rotated.secret)
    assert await admin.keys.list() == []
    assert [k.id for k in await admin.keys.list(include_revoked=True)] == [key.id]


async def test_bad_input_and_unknown_ids(admin: GatewayClient) -> None:
    with pytest.raises(InvalidRequestError) as bad_subject:
        await admin.keys.create("alice")
    assert (bad_subject.value.http_status, bad_subject.value.param) == (400, "subject")
    with pytest.raises(InvalidRequestError, match="unknown model 'mock-main/nope'"):
        await admin.keys.create("user:a@example.com", models=["mock-main/nope"])
    with pytest.raises(InvalidRequestError, match="future"):
        await admin.keys.create("user:a@example.com", expires_at_ms=1)
    for call in (admin.keys.revoke, admin.keys.rotate):
        with pytest.raises(NotFoundError) as missing:
            await call("key_0000000000000000")
        assert (missing.value.reason, missing.value.http_status) == ("key_not_found", 404)


async def test_only_the_admin_may_manage_keys(admin: GatewayClient) -> None:
    user_key = (await admin.keys.create("user:bob@example.com", admin_teams=["ml"])).secret
    for key in (ALICE_KEY, user_key):  # a config key, and a team admin's stored key
        calls = (
            admin.keys.create("user:eve@example.com", api_key=key),
            admin.keys.list(api_key=key),
            admin.keys.revoke("key_0000000000000000", api_key=key),
            admin.keys.rotate("key_0000000000000000", api_key=key),
        )
        for call in calls:
            with pytest.raises(PermissionDeniedError) as denied:
                await call
            assert (denied.value.reason, denied.value.http_status) == ("permission_denied", 403)


async def test_model_allow_list_is_enforced_for_every_rpc(admin: GatewayClient) -> None:
    secret = (await admin.keys.create("virtualaccount:bot", models=["mock-main/echo"])).secret
    assert (await admin.route(params(), api_key=secret)).result.choices[0].message.text == "hi"
    blocked = (
        admin.route(params("mock-main/other"), api_key=secret),
        admin.embed(EmbedRequest(model="mock-main/embed", inputs=["x"]), api_key=secret),
    )
    for call in blocked:
        with pytest.raises(PermissionDeniedError) as denied:
            await call
        assert (denied.value.reason, denied.value.http_status) == ("model_not_allowed", 403)
        assert denied.value.param == "model"
    stream = admin.stream_route(params("mock-main/embed"), api_key=secret)
    with pytest.raises(PermissionDeniedError) as denied_stream:
        async for _ in stream:
            pass
    assert denied_stream.value.reason == "model_not_allowed"


async def test_calls_are_attributed_to_the_key_used(
    admin: GatewayClient, recorder: SeeingRecorder
) -> None:
    created = await admin.keys.create("user:carol@example.com", teams=["ml"])
    await admin.route(params(), api_key=created.secret)
    await admin.embed(EmbedRequest(model="mock-main/embed", inputs=["x"]), api_key=created.secret)
    await admin.route(params(), api_key=ALICE_KEY)
    seen = [(c.principal.subject, c.principal.key_id, c.principal.teams) for c in recorder.seen]
    assert seen == [
        ("user:carol@example.com", created.api_key.id, ("team:ml",)),
        ("user:carol@example.com", created.api_key.id, ("team:ml",)),
        ("user:alice@example.com", "key-alice", ()),
    ]


async def test_key_service_reports_serving(core: CoreHandle) -> None:
    health = health_pb2_grpc.HealthStub(core.channel)
    answer = await health.Check(health_pb2.HealthCheckRequest(service="gateway.v1.KeyService"))
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
