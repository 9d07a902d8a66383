"""Core and facade over a store the caller opened, in this process, on ephemeral ports.

For tests and benchmarks that fill a store first: the same builders `llm-gateway serve` uses
(`build_core`, `create_app`), the facade reaching core over local gRPC.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn

from core.config.loader import GatewayConfig
from core.server import build_core
from core.store.base import Store
from core.usage.rollup import Rollups
from facade.app import create_app
from facade.settings import FacadeSettings
from gateway_cli.http_server import HttpServer
from gateway_client import GatewayClient


@dataclass(frozen=True, slots=True)
class Embedded:
    """Where an embedded gateway listens."""

    http_url: str
    grpc_target: str


@asynccontextmanager
async def embedded_gateway(
    store: Store, config: GatewayConfig, *, admin_key: str, rollups: Rollups | None = None
) -> AsyncIterator[Embedded]:
    """Serves `store` until exit; the store stays open (the caller closes it)."""
    core = build_core(
        config, admin_key=admin_key, address="127.0.0.1:0", store=store, rollups=rollups
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
        yield Embedded(f"http://127.0.0.1:{port}", target)
    finally:
        server.should_exit = True
        await task
        await core.stop(grace=1)
