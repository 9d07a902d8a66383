"""Runs core, facade, or both in one process (the facade reaching core over local gRPC)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from wsgiref.simple_server import WSGIServer

import grpc
import uvicorn
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp

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
from gateway_cli.admin_key import AdminKey, admin_key
from gateway_cli.http_server import HttpServer
from gateway_cli.scrape import METRICS_PATH, ScrapeGuard, serve_metrics_port, with_metrics
from gateway_client import GatewayClient

FACADE_CHANNEL_OPTIONS = (("grpc.max_reconnect_backoff_ms", 1000),)
"""The facade's channel to a separate core retries a lost connection every second: with
gRPC's default backoff (growing to 120 s) the facade kept answering 503 for seconds, up to
minutes, after core was back; one connection attempt a second to a core that is down is
nothing."""


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where a running gateway listens."""

    http_url: str | None
    grpc_target: str | None
    admin_key: AdminKey
    metrics_url: str | None = None
    """Where Prometheus scrapes, if anywhere."""
    metrics_open: bool = True
    """False when a scrape needs GATEWAY_METRICS_TOKEN."""


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
    token = settings.metrics_token
    guard = ScrapeGuard(token.get_secret_value() if token is not None else None)
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
            server_selection_timeout=settings.mongodb_server_selection_timeout_seconds,
        )
        await store.open()
        registry = CollectorRegistry()
        try:
            counters = open_counters(
                uri=settings.store_uri,
                data_dir=settings.data_dir,
                shared=settings.shared_limits,
                server_selection_timeout=settings.mongodb_server_selection_timeout_seconds,
            )
            await counters.open()
            # Replays a journal a previous run left, in the background, before any new record.
            metrics = build_metrics(registry, RequestLabels.from_config(config.metrics))
            logs = build_request_logs(store, config, settings, metrics)
            logs.start()
            core = build_core(
                config,
                admin_key=key.secret,
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
        metrics_server = _serve_metrics(settings, registry, guard)
        if run_facade:
            channel = None
            if core is not None and settings.facade_transport == "in-process":
                channel = core.in_process_channel()
            await _serve_facade(
                settings,
                grpc_target or f"{settings.host}:{settings.grpc_port}",
                key,
                guard,
                grpc_target if run_core else None,
                on_ready,
                stop,
                registry,
                channel,
            )
        else:
            metrics_url = None
            if metrics_server is not None:
                metrics_url = f"http://{settings.host}:{metrics_server.server_port}{METRICS_PATH}"
            on_ready(Endpoints(None, grpc_target, key, metrics_url, guard.open))
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
    key: AdminKey,
    guard: ScrapeGuard,
    grpc_target: str | None,
    on_ready: Callable[[Endpoints], None],
    stop: asyncio.Event,
    registry: CollectorRegistry | None = None,
    channel: grpc.aio.Channel | None = None,
) -> None:
    client = GatewayClient(
        target,
        timeout=None,
        max_message_bytes=settings.grpc_max_message_bytes,
        channel=channel,
        channel_options=FACADE_CHANNEL_OPTIONS,
    )
    # One /metrics: core's registry under `serve`, the facade's own when it runs alone.
    registry = registry or CollectorRegistry()
    app: ASGIApp = create_app(FacadeSettings(max_body_bytes=settings.max_body_bytes), client)
    app = with_metrics(instrument(app, HttpMetrics.register(registry)), registry, guard)
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
        url = f"http://{settings.host}:{port}"
        on_ready(Endpoints(url, grpc_target, key, url + METRICS_PATH, guard.open))

    server = HttpServer(config, started)
    watcher = asyncio.create_task(_exit_on(stop, server))
    try:
        await server.serve()
    finally:
        watcher.cancel()


def _serve_metrics(
    settings: Settings, registry: CollectorRegistry | None, guard: ScrapeGuard
) -> WSGIServer | None:
    """GATEWAY_METRICS_PORT: Prometheus metrics on their own port (a thread), e.g. for `core`."""
    if settings.metrics_port is None or registry is None:
        return None
    return serve_metrics_port(settings.host, settings.metrics_port, registry, guard)


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
