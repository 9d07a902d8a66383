"""A real gateway for the log API: SQLite store file, core on gRPC, facade on HTTP (uvicorn).

The store is filled directly (`insert_logs`, `insert_key`) before core starts; every test
gets its own file, ports and servers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import uvicorn

from core.config.loader import parse_config
from core.server import build_core
from core.store.sqlite import SqliteStore
from facade.app import create_app
from facade.settings import FacadeSettings
from gateway_cli.http_server import HttpServer
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
    for key in KEYS.values():
        await store.insert_key(key)
    await store.insert_logs(RECORDS)
    core = build_core(parse_config(CONFIG), admin_key=ADMIN_KEY, address="127.0.0.1:0", store=store)
    await core.start()
    target = f"127.0.0.1:{core.port}"
    app = create_app(FacadeSettings(request_timeout_seconds=10), GatewayClient(target))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="on"
    )
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    server = HttpServer(config, started.set_result)
    task = asyncio.create_task(server.serve())
    try:
        port = await asyncio.wait_for(asyncio.shield(started), timeout=10)
        yield LogGateway(f"http://127.0.0.1:{port}", target, store)
    finally:
        server.should_exit = True
        await task
        await core.stop(grace=1)
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
