"""A real grpc.aio server running the scripted `FakeCore`, and a client opened against it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from gateway_client import GatewayClient
from tests.clients.fake_core import FakeCore, start_fake_core


@pytest.fixture
async def core_server() -> AsyncIterator[tuple[FakeCore, str]]:
    server: grpc.aio.Server
    server, core, target = await start_fake_core()
    try:
        yield core, target
    finally:
        await server.stop(None)


@pytest.fixture
def core(core_server: tuple[FakeCore, str]) -> FakeCore:
    return core_server[0]


@pytest.fixture
async def client(core_server: tuple[FakeCore, str]) -> AsyncIterator[GatewayClient]:
    async with GatewayClient(core_server[1], api_key="sk-default", timeout=10) as opened:
        yield opened
