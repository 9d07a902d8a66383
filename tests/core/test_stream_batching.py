"""Over a real gRPC socket, deltas that are ready together travel in one message; the
client hands them out one by one, and callers that did not ask get one delta a message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from core.config.loader import parse_config
from core.server import Core, build_core
from core.store.sqlite import SqliteStore
from gateway.v1 import chat_pb2 as chat, route_service_pb2 as pb, route_service_pb2_grpc
from gateway_client import GatewayClient
from tests.core.conftest import ADMIN_KEY, CORE_CONFIG

TEXT = "one two three four five six"
AUTH = (("authorization", f"Bearer {ADMIN_KEY}"),)


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    store = SqliteStore(tmp_path / "gateway.db")
    await store.open()
    built = build_core(
        parse_config(CORE_CONFIG), admin_key=ADMIN_KEY, address="127.0.0.1:0", store=store
    )
    await built.start()
    try:
        yield built
    finally:
        await built.stop(grace=1)
        await store.close()


def params() -> chat.ChatParams:
    return chat.ChatParams(
        model="mock-main/echo", messages=[chat.Message(role=chat.ROLE_USER, text=TEXT)]
    )


async def events_of(core: Core, *, batch: bool) -> list[str]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{core.port}") as channel:
        stub = route_service_pb2_grpc.RouteServiceStub(channel)
        request = pb.StreamRouteRequest(params=params(), batch_deltas=batch)
        kinds = []
        async for message in stub.StreamRoute(request, metadata=AUTH):
            kind = message.WhichOneof("event")
            kinds.append(f"deltas:{len(message.deltas.deltas)}" if kind == "deltas" else kind)
        return kinds


async def test_ready_deltas_travel_together_when_asked(core: Core) -> None:
    batched = await events_of(core, batch=True)
    single = await events_of(core, batch=False)
    assert single.count("delta") >= 3  # the mock streams the text word by word
    assert set(single[:-1]) == {"delta"}
    assert single[-1] == "result"
    assert batched[0] == "delta"  # the first piece goes out as soon as it is there
    assert batched[-1] == "result"
    assert any(kind.startswith("deltas:") for kind in batched)
    assert len(batched) < len(single)


async def test_the_client_hands_out_batched_deltas_one_by_one(core: Core) -> None:
    async with (
        GatewayClient(f"127.0.0.1:{core.port}", api_key=ADMIN_KEY, timeout=10) as client,
        client.stream_route(params()) as stream,
    ):
        await stream.start()
        events = [event async for event in stream]
    assert [e.WhichOneof("event") for e in events[:-1]] == ["delta"] * (len(events) - 1)
    assert events[-1].WhichOneof("event") == "result"
    assert "".join(e.delta.content for e in events[:-1]) == TEXT
