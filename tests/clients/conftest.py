"""A real grpc.aio server running the scripted `FakeCore`, and a client opened against it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway_client import GatewayClient
from tests.clients.fake_core import FakeCore, core, core_server  # noqa: F401


@pytest.fixture
async def client(core_server: tuple[FakeCore, str]) -> AsyncIterator[GatewayClient]:
    async with GatewayClient(core_server[1], api_key="sk-default", timeout=10) as opened:
        yield opened
