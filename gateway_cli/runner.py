"""Runs core, facade, or both in one process (the facade reaching core over local gRPC)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from wsgiref.simple_server import WSGIServer

import uvicorn
from prometheus_client import CollectorRegistry, make_asgi_app, start_http_server
from starlette.types import ASGIApp, Receive, Scope, Send

from core.config.loader import GatewayConfig
from core.config.settings import Settings
from core.logs import RequestLogs, build_request_logs
from core.metrics import RequestLabels, build_metrics
from core.router.counters import WindowCounters
from core.server import build_core
from core.store.factory import open_counters, open_store
from core.usage.rollup import Rollups
from facade.app import create_app
from facade.http_metrics import HttpMetrics, instrument
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
    store = None
    logs: RequestLogs | None = None
    counters: WindowCounters | None = None
    registry: CollectorRegistry | None = None
    grpc_target = settings.core_target
    if run_core:
        rollups = Rollups.from_config(config.metrics)
        metadata_keys = [k.key for k in config.metrics.metadata_keys] if config.metrics else []
        store = open_store(
            uri=settings.store_uri,
            data_dir=settings.data_dir,
            metadata_index_keys=metadata_keys,
            rollups=rollups,
        )
        await store.open()
        registry = CollectorRegistry()
        try:
            counters = open_counters(
                uri=settings.store_uri, data_dir=settings.data_dir, shared=settings.shared_limits
            )
            await counters.open()
            # Replays a journal a previous run left, in the background, before any new record.
            metrics = build_metrics(registry, RequestLabels.from_config(config.metrics))
            logs = build_request_logs(store, config, settings, metrics)
            logs.start()
            core = build_core(
                config,
                admin_key=key,
                address=f"{settings.host}:{settings.grpc_port}",
                store=store,
                key_cache_ttl_seconds=settings.key_cache_ttl_seconds,
                recorder=logs.recorder,
                log_sink=logs.pipeline.submit,
                rollups=rollups,
                max_message_bytes=settings.grpc_max_message_bytes,
                counters=counters,
                router_metrics=metrics.router,
                config_path=settings.config if settings.config_reload_seconds > 0 else None,
                reload_poll_seconds=settings.config_reload_seconds,
            )
            await core.start()
        except BaseException:
            if logs is not None:
                await logs.stop()
            if counters is not None:
                await counters.aclose()
            await store.close()
            raise
        grpc_target = f"{settings.host}:{core.port}"
    metrics_server: WSGIServer | None = None
    try:
        metrics_server = _serve_metrics(settings, registry)
        if run_facade:
            await _serve_facade(
                settings,
                grpc_target or f"{settings.host}:{settings.grpc_port}",
                key,
                grpc_target if run_core else None,
                on_ready,
                stop,
                registry,
            )
        else:
            on_ready(Endpoints(None, grpc_target, key))
            await _wait_for_signal(stop)
    finally:
        if core is not None:
            await core.stop(settings.shutdown_grace_seconds)
        if logs is not None:
            # After in-flight calls ended: their records are queued; write them, or journal them.
            await logs.stop()
        if counters is not None:
            await counters.aclose()
        if store is not None:
            await store.close()
        if metrics_server is not None:
            await asyncio.to_thread(metrics_server.shutdown)  # waits for its poll loop (<0.5 s)
            metrics_server.server_close()


async def _serve_facade(
    settings: Settings,
    target: str,
    key: str,
    grpc_target: str | None,
    on_ready: Callable[[Endpoints], None],
    stop: asyncio.Event,
    registry: CollectorRegistry | None = None,
) -> None:
    client = GatewayClient(target, timeout=None)
    # One /metrics: core's registry under `serve`, the facade's own when it runs alone.
    registry = registry or CollectorRegistry()
    app: ASGIApp = create_app(FacadeSettings(max_body_bytes=settings.max_body_bytes), client)
    app = _with_metrics(instrument(app, HttpMetrics.register(registry)), registry)
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


def _with_metrics(app: ASGIApp, registry: CollectorRegistry) -> ASGIApp:
    """`GET /metrics` (exactly, no redirect) from core's registry; the facade never imports core."""
    metrics = make_asgi_app(registry=registry)

    async def composed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/metrics":
            await metrics(scope, receive, send)
        else:
            await app(scope, receive, send)

    return composed


def _serve_metrics(settings: Settings, registry: CollectorRegistry | None) -> WSGIServer | None:
    """GATEWAY_METRICS_PORT: Prometheus metrics on their own port (a thread), e.g. for `core`."""
    if settings.metrics_port is None or registry is None:
        return None
    server, _ = start_http_server(settings.metrics_port, addr=settings.host, registry=registry)
    return server


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
