"""A real gateway for the metrics API over the log API's records, with rollups kept.

One gateway per module (the tests only read): SQLite store filled before core starts,
core on gRPC, facade on HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio

from core.config.loader import parse_config
from core.store.sqlite import SqliteStore
from core.usage.rollup import Rollups
from gateway_cli.embedded import embedded_gateway
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
    try:
        async with embedded_gateway(store, config, admin_key=ADMIN_KEY, rollups=rollups) as running:
            yield MetricsGateway(running.http_url, running.grpc_target)
    finally:
        await store.close()
