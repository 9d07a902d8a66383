"""A real gateway for the metrics API over the log API's records, with rollups kept.

One gateway per module (the tests only read): SQLite store filled before core starts,
core on gRPC, facade on HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
import uvicorn

from core.config.loader import parse_config
from core.server import build_core
from core.store.sqlite import SqliteStore
from core.usage.rollup import Rollups
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
---
name: metrics
type: gateway-metrics-config
metadata_keys: [customer_id]
"""
QUERY_PATH = "/api/svc/v1/llm-gateway/metrics/query"


@dataclass
class MetricsGateway:
    http_url: str
    grpc_target: str

    def http(self, key: str = ADMIN_KEY) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.http_url, headers={"authorization": f"Bearer {key}"}, timeout=10
        )

    def grpc(self, key: str = ADMIN_KEY) -> GatewayClient:
        return GatewayClient(self.grpc_target, api_key=key, timeout=10)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def metrics_gateway(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[MetricsGateway]:
    config = parse_config(CONFIG)
    rollups = Rollups.from_config(config.metrics)
    store = SqliteStore(tmp_path_factory.mktemp("metricsapi") / "gateway.db", rollups=rollups)
    await store.open()
    for key in KEYS.values():
        await store.insert_key(key)
    await store.insert_logs(RECORDS)
    core = build_core(
        config, admin_key=ADMIN_KEY, address="127.0.0.1:0", store=store, rollups=rollups
    )
    await core.start()
    target = f"127.0.0.1:{core.port}"
    app = create_app(FacadeSettings(request_timeout_seconds=10), GatewayClient(target))
    server_config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="on"
    )
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    server = HttpServer(server_config, started.set_result)
    task = asyncio.create_task(server.serve())
    try:
        port = await asyncio.wait_for(asyncio.shield(started), timeout=10)
        yield MetricsGateway(f"http://127.0.0.1:{port}", target)
    finally:
        server.should_exit = True
        await task
        await core.stop(grace=1)
        await store.close()
