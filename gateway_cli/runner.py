"""Runs core, facade, or both in one process (the facade reaching core over local gRPC)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from core.config.loader import GatewayConfig
from core.config.settings import Settings
from core.server import build_core
from facade.app import create_app
from facade.settings import FacadeSettings
from gateway_cli.http_server import HttpServer
from gateway_client import GatewayClient


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where a running gateway listens."""

    http_url: str | None
    grpc_target: str | None
    admin_key: str


def admin_key(settings: Settings) -> str:
    """GATEWAY_ADMIN_KEY, else a key generated once and kept in the data dir (mode 0600)."""
    if settings.admin_key is not None:
        return settings.admin_key.get_secret_value()
    path = settings.data_dir / "admin.key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = "gw-admin-" + secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.write_text(key + "\n", encoding="utf-8")
    return key


async def serve(
    settings: Settings,
    config: GatewayConfig,
    *,
    run_core: bool = True,
    run_facade: bool = True,
    on_ready: Callable[[Endpoints], None] = lambda _: None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serves until SIGINT/SIGTERM (or `stop`), then drains in-flight calls and exits."""
    key = admin_key(settings)
    stop = stop or asyncio.Event()
    core = None
    grpc_target = settings.core_target
    if run_core:
        core = build_core(
            config,
            admin_key=key,
            address=f"{settings.host}:{settings.grpc_port}",
            max_message_bytes=settings.grpc_max_message_bytes,
        )
        await core.start()
        grpc_target = f"{settings.host}:{core.port}"
    try:
        if run_facade:
            await _serve_facade(
                settings,
                grpc_target or f"{settings.host}:{settings.grpc_port}",
                key,
                grpc_target if run_core else None,
                on_ready,
                stop,
            )
        else:
            on_ready(Endpoints(None, grpc_target, key))
            await _wait_for_signal(stop)
    finally:
        if core is not None:
            await core.stop(settings.shutdown_grace_seconds)


async def _serve_facade(
    settings: Settings,
    target: str,
    key: str,
    grpc_target: str | None,
    on_ready: Callable[[Endpoints], None],
    stop: asyncio.Event,
) -> None:
    client = GatewayClient(target, timeout=None)
    app = create_app(FacadeSettings(max_body_bytes=settings.max_body_bytes), client)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.http_port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )

    def started(port: int) -> None:
        on_ready(Endpoints(f"http://{settings.host}:{port}", grpc_target, key))

    server = HttpServer(config, started)
    watcher = asyncio.create_task(_exit_on(stop, server))
    try:
        await server.serve()
    finally:
        watcher.cancel()


async def _exit_on(stop: asyncio.Event, server: uvicorn.Server) -> None:
    await stop.wait()
    server.should_exit = True


async def _wait_for_signal(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def data_dir_ready(path: Path) -> None:
    """Creates the data dir the embedded store will use."""
    path.mkdir(parents=True, exist_ok=True)
