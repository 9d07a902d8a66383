"""The in-process channel keeps the gRPC contract: interceptor, metadata, status, deadlines,
cancellation, and the servicer's context variables kept out of the caller's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from core.config.loader import parse_config
from core.interceptors import current_request_id
from core.recording import CallContext, CallTrace, NullRecorder
from core.server import Core, build_core
from core.store.sqlite import SqliteStore
from gateway.v1 import chat_pb2 as chat, route_service_pb2 as pb
from gateway.v1.route_service_pb2 import EmbedRequest
from gateway_client import AuthenticationError, DeadlineExceededError, GatewayClient
from tests.core.conftest import ADMIN_KEY, CORE_CONFIG

SLOW = """
---
name: mock-slow
type: provider-account
provider: mock
mock: {latency_ms: 5000, chunk_delay_ms: 5000}
models: [{name: echo}]
"""


class Traces(NullRecorder):
    """Tells when a call's trace finished: the servicer's own end of the call."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.finished = asyncio.Event()
        self.cancelled = False

    def chat(self, context: CallContext, params: chat.ChatParams) -> CallTrace:
        trace = super().chat(context, params)
        self.started.set()
        outer = self

        class Seen(type(trace)):  # type: ignore[misc]
            def cancelled(self) -> None:
                outer.cancelled = True

            def finish(self) -> None:
                outer.finished.set()

        trace.__class__ = Seen
        return trace

    def embed(self, context: CallContext, request: EmbedRequest) -> CallTrace:
        return super().embed(context, request)


@pytest.fixture
def traces() -> Traces:
    return Traces()


@pytest.fixture
async def core(tmp_path: Path, traces: Traces) -> AsyncIterator[Core]:
    store = SqliteStore(tmp_path / "gateway.db")
    await store.open()
    built = build_core(
        parse_config(CORE_CONFIG + SLOW),
        admin_key=ADMIN_KEY,
        address="127.0.0.1:0",
        store=store,
        recorder=traces,
    )
    await built.start()
    try:
        yield built
    finally:
        await built.stop(grace=1)
        await store.close()


def params(model: str = "mock-main/echo") -> chat.ChatParams:
    return chat.ChatParams(model=model, messages=[chat.Message(role=chat.ROLE_USER, text="hi")])


def client(core: Core, key: str = ADMIN_KEY, timeout: float | None = 10) -> GatewayClient:
    return GatewayClient(
        "in-process", channel=core.in_process_channel(), api_key=key, timeout=timeout
    )


async def test_unary_call_runs_through_the_interceptor(core: Core) -> None:
    async with client(core) as gateway:
        answer = await gateway.route(params(), request_id="caller-id-1")
    assert answer.result.choices[0].message.text == "hi"
    assert answer.request_id == "caller-id-1"
    assert answer.resolved_model == "mock-main/echo"
    assert current_request_id() == ""  # the servicer's context stayed in its own task


async def test_stream_yields_every_event_then_ends(core: Core) -> None:
    async with client(core) as gateway, gateway.stream_route(params()) as stream:
        info = await stream.start()
        events = [event async for event in stream]
    assert info.resolved_model == "mock-main/echo"
    assert info.request_id
    assert events[-1].WhichOneof("event") == "result"
    assert "".join(e.delta.content for e in events[:-1]) == "hi"


async def test_a_bad_key_is_the_same_error_as_over_grpc(core: Core) -> None:
    async with client(core, key="wrong") as gateway:
        with pytest.raises(AuthenticationError):
            await gateway.route(params())
        with pytest.raises(AuthenticationError):
            async with gateway.stream_route(params()) as stream:
                await stream.start()


async def test_the_deadline_ends_the_call_and_the_servicer(core: Core, traces: Traces) -> None:
    async with client(core, timeout=0.05) as gateway:
        with pytest.raises(DeadlineExceededError):
            await gateway.route(params("mock-slow/echo"))
    await traces.finished.wait()


async def test_cancelling_a_stream_cancels_the_servicer(core: Core, traces: Traces) -> None:
    async with client(core) as gateway:
        stream = gateway.stream_route(params("mock-slow/echo"))
        reading = asyncio.ensure_future(stream.start())
        await traces.started.wait()
        stream.cancel()
        with pytest.raises((asyncio.CancelledError, Exception)):
            await reading
    await traces.finished.wait()
    assert traces.cancelled


async def test_an_unknown_method_is_unimplemented(core: Core) -> None:
    call = core.in_process_channel().unary_unary("/gateway.v1.RouteService/Nope")(
        pb.ListModelsRequest(), metadata=(("authorization", f"Bearer {ADMIN_KEY}"),)
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    assert raised.value.code() is grpc.StatusCode.UNIMPLEMENTED


async def test_list_models_and_embed_over_the_channel(core: Core) -> None:
    async with client(core) as gateway:
        models = await gateway.list_models()
        answer = await gateway.embed(EmbedRequest(model="mock-main/embed", inputs=["a", "b"]))
    assert "mock-main/echo" in {m.id for m in models}
    assert len(answer.embeddings) == 2
