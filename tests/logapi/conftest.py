"""A real gateway for the log API: SQLite store file, core on gRPC, facade on HTTP (uvicorn).

The store is filled directly (`insert_logs`, `insert_key`) before core starts; every test
gets its own file, ports and servers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from core.config.loader import parse_config
from core.store.sqlite import SqliteStore
from gateway_cli.embedded import embedded_gateway
from gateway_client import GatewayClient
from tests.logapi.records import ADMIN_KEY, KEYS, RECORDS

CONFIG = """
name: mock-main
type: provider-account
provider: mock
models:
  - {name: echo}
"""
REQUESTS_PATH = "/api/svc/v1/llm-gateway/requests"


@dataclass
class LogGateway:
    """A running gateway over a filled store."""

    http_url: str
    grpc_target: str
    store: SqliteStore

    @property
    def requests_url(self) -> str:
        return self.http_url + REQUESTS_PATH

    def http(self, key: str = ADMIN_KEY) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.http_url, headers={"authorization": f"Bearer {key}"}, timeout=10
        )

    def grpc(self, key: str = ADMIN_KEY) -> GatewayClient:
        return GatewayClient(self.grpc_target, api_key=key, timeout=10)


@asynccontextmanager
async def serving(db: Path) -> AsyncIterator[LogGateway]:
    """Core and facade over a SQLite file holding RECORDS and KEYS."""
    store = SqliteStore(db)
    await store.open()
    try:
        for key in KEYS.values():
            await store.insert_key(key)
        await store.insert_logs(RECORDS)
        async with embedded_gateway(store, parse_config(CONFIG), admin_key=ADMIN_KEY) as running:
            yield LogGateway(running.http_url, running.grpc_target, store)
    finally:
        await store.close()


@pytest.fixture
async def logs_gateway(tmp_path: Path) -> AsyncIterator[LogGateway]:
    """A gateway of the test's own (for tests that write)."""
    async with serving(tmp_path / "gateway.db") as gateway:
        yield gateway


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_gateway(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LogGateway]:
    """One gateway for a whole module of read-only tests (mark them loop_scope="module")."""
    async with serving(tmp_path_factory.mktemp("logapi") / "gateway.db") as gateway:
        yield gateway


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def admin_http(shared_gateway: LogGateway) -> AsyncIterator[httpx.AsyncClient]:
    """The admin's HTTP client of `shared_gateway` (sees every record)."""
    async with shared_gateway.http() as client:
        yield client
