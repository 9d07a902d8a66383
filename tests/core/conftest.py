"""A core gRPC server on an ephemeral port, and raw generated stubs to call it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import grpc
import pytest

from core.config.loader import parse_config
from core.config.models import ProviderAccount
from core.providers.base import Provider
from core.providers.factory import build_provider
from core.recording import CallRecorder
from core.server import build_core
from core.store.base import Store
from core.store.sqlite import SqliteStore
from gateway.v1 import route_service_pb2_grpc
from tests.transport import core_channel

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
    store: Store


async def start_core(
    config_yaml: str = CORE_CONFIG,
    provider_factory: Callable[[ProviderAccount, str | None], Provider] = build_provider,
    *,
    recorder: CallRecorder | None = None,
    key_cache_ttl_seconds: float = 5.0,
) -> AsyncIterator[CoreHandle]:
    """A core on an ephemeral port over a SQLite store in a fresh temporary directory."""
    with TemporaryDirectory() as data_dir:
        store = SqliteStore(Path(data_dir) / "gateway.db")
        await store.open()
        core = build_core(
            parse_config(config_yaml),
            admin_key=ADMIN_KEY,
            address="127.0.0.1:0",
            store=store,
            key_cache_ttl_seconds=key_cache_ttl_seconds,
            recorder=recorder,
            provider_factory=provider_factory,
        )
        await core.start()
        target = f"127.0.0.1:{core.port}"
        try:
            async with core_channel(core) as channel:
                stub = route_service_pb2_grpc.RouteServiceStub(channel)
                yield CoreHandle(target, channel, stub, store)
        finally:
            await core.stop(grace=1)
            await store.close()


@pytest.fixture
async def core() -> AsyncIterator[CoreHandle]:
    async for handle in start_core():
        yield handle


def auth(key: str = ADMIN_KEY) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {key}"),)
