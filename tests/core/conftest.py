"""A core gRPC server on an ephemeral port, and raw generated stubs to call it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc
import pytest

from core.config.loader import parse_config
from core.config.models import ProviderAccount
from core.providers.base import Provider
from core.providers.factory import build_provider
from core.server import build_core
from gateway.v1 import route_service_pb2_grpc

CORE_CONFIG = """
name: mock-main
type: provider-account
provider: mock
timeout_seconds: 0.05
models:
  - {name: echo}
  - {name: embed, kind: embedding}
---
name: keys
type: gateway-api-keys
keys:
  - id: key-alice
    subject: user:alice@example.com
    sha256: 8174099687a26621f4e2cdd7cc03b3dacedb3fb962255b1aafd033cabe831530
"""
ALICE_KEY = "key1"  # sha256("key1") is the digest above
ADMIN_KEY = "core-admin-key"


@dataclass
class CoreHandle:
    target: str
    channel: grpc.aio.Channel
    route: route_service_pb2_grpc.RouteServiceStub


async def start_core(
    config_yaml: str = CORE_CONFIG,
    provider_factory: Callable[[ProviderAccount, str | None], Provider] = build_provider,
) -> AsyncIterator[CoreHandle]:
    core = build_core(
        parse_config(config_yaml),
        admin_key=ADMIN_KEY,
        address="127.0.0.1:0",
        provider_factory=provider_factory,
    )
    await core.start()
    target = f"127.0.0.1:{core.port}"
    async with grpc.aio.insecure_channel(target) as channel:
        yield CoreHandle(target, channel, route_service_pb2_grpc.RouteServiceStub(channel))
    await core.stop(grace=1)


@pytest.fixture
async def core() -> AsyncIterator[CoreHandle]:
    async for handle in start_core():
        yield handle


def auth(key: str = ADMIN_KEY) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {key}"),)
