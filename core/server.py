"""Builds the core: providers, pipeline, servicers, and the grpc.aio server (health, reflection)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from core.auth import Authenticator
from core.config.loader import GatewayConfig
from core.config.models import DEFAULT_RAW_WINDOW_HOURS, ProviderAccount
from core.config.settings import DEFAULT_GRPC_MAX_MESSAGE_BYTES
from core.identity.keys import KeyManager
from core.inprocess import InProcessChannel, MethodTable, Registrations
from core.interceptors import GatewayInterceptor
from core.logs.query import MAX_LIMIT, PageBounds
from core.metadata import MAX_CALL_METADATA_BYTES
from core.metrics import RouterMetrics
from core.providers.base import Provider
from core.providers.factory import build_provider
from core.recording import CallRecorder
from core.router.counters import WindowCounters
from core.router.limits import Limits
from core.router.local_counters import LocalCounters
from core.router.reload import ConfigReloader, build_snapshot
from core.router.router import Router
from core.router.snapshot import LiveModelIds, SnapshotSource
from core.servicers.keys import KeyServicer
from core.servicers.logs import LogServicer, LogSink
from core.servicers.metrics import MetricsServicer
from core.servicers.responses import ResponseServicer
from core.servicers.route import RouteServicer
from core.store.base import Store
from core.usage.engine import MetricsEngine
from core.usage.rollup import HOUR_MS, Rollups
from gateway.v1 import (
    key_service_pb2,
    key_service_pb2_grpc,
    log_service_pb2,
    log_service_pb2_grpc,
    metrics_service_pb2,
    metrics_service_pb2_grpc,
    response_service_pb2,
    response_service_pb2_grpc,
    route_service_pb2,
    route_service_pb2_grpc,
)

SERVICE_NAMES = (
    route_service_pb2.DESCRIPTOR.services_by_name["RouteService"].full_name,
    log_service_pb2.DESCRIPTOR.services_by_name["LogService"].full_name,
    metrics_service_pb2.DESCRIPTOR.services_by_name["MetricsService"].full_name,
    key_service_pb2.DESCRIPTOR.services_by_name["KeyService"].full_name,
    response_service_pb2.DESCRIPTOR.services_by_name["ResponseService"].full_name,
)


@dataclass(slots=True)
class Core:
    """A built, not yet started, core; `stop()` drains and closes upstream pools."""

    server: grpc.aio.Server
    port: int
    source: SnapshotSource
    router: Router
    health: health.aio.HealthServicer
    auth: Authenticator
    methods: MethodTable
    reloader: ConfigReloader | None = None

    def in_process_channel(self) -> InProcessChannel:
        """A channel to this core for a client in this process: no socket, no serialization."""
        return InProcessChannel(self.methods)

    async def start(self) -> None:
        await self.server.start()
        self.auth.start()
        if self.reloader is not None:
            self.reloader.start()
        for name in (*SERVICE_NAMES, ""):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        if self.reloader is not None:
            await self.reloader.stop()
        await self.router.limits.drain()
        await self.auth.stop()
        await self.source.current.models.aclose()


def build_core(
    config: GatewayConfig,
    *,
    admin_key: str,
    address: str,
    store: Store,
    key_cache_ttl_seconds: float = 5.0,
    recorder: CallRecorder | None = None,
    log_sink: LogSink | None = None,
    rollups: Rollups | None = None,
    max_log_page_size: int = MAX_LIMIT,
    max_message_bytes: int = DEFAULT_GRPC_MAX_MESSAGE_BYTES,
    environ: Mapping[str, str] | None = None,
    provider_factory: Callable[[ProviderAccount, str | None], Provider] = build_provider,
    counters: WindowCounters | None = None,
    router_metrics: RouterMetrics | None = None,
    config_path: Path | None = None,
    reload_poll_seconds: float = 1.0,
) -> Core:
    """Creates providers (inside the running loop) and binds `address` (port 0 picks one).

    `counters` keep rate limits and budgets (in-process ones by default; a shared store's
    for exact limits across instances). With `config_path`, changes to that file are
    applied without a restart. `max_message_bytes` bounds every gRPC message both ways; give
    the gateway's clients the same (`GatewayClient(max_message_bytes=...)`).
    """
    env = os.environ if environ is None else environ
    source = SnapshotSource(
        build_snapshot(
            config,
            environ=env,
            provider_factory=provider_factory,
            source=str(config_path) if config_path is not None else "<config>",
        )
    )
    auth = Authenticator(
        store,
        admin_key,
        lambda: source.current.config_keys,
        cache_ttl_seconds=key_cache_ttl_seconds,
    )
    interceptor = GatewayInterceptor(auth)
    server = grpc.aio.server(
        interceptors=[interceptor],
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),
            # Soft limit = hard limit: between the two (8, 16 KiB by default) calls fail at random.
            ("grpc.max_metadata_size", MAX_CALL_METADATA_BYTES),
            ("grpc.absolute_max_metadata_size", MAX_CALL_METADATA_BYTES),
        ],
    )
    # The gateway's services answer on the socket and, for a facade in this process, in process.
    methods = MethodTable([interceptor])
    # The generated `add_*_to_server` functions only call the two methods Registrations has.
    services = cast(grpc.aio.Server, Registrations(server, methods))
    limits = Limits(
        counters or LocalCounters(),
        on_blocked=router_metrics.blocked if router_metrics is not None else None,
    )
    router = Router(source, limits, events=router_metrics)
    route_service_pb2_grpc.add_RouteServiceServicer_to_server(
        RouteServicer(router, source, recorder), services
    )
    keys = KeyManager(store, LiveModelIds(source), on_change=auth.forget)
    key_service_pb2_grpc.add_KeyServiceServicer_to_server(KeyServicer(keys), services)
    # LogService.Log writes through the log pipeline when given one, else straight to the store.
    # Log pages are cut to fit a message: a stored record is as big as the call it logs.
    logs = LogServicer(
        store,
        sink=log_sink,
        bounds=PageBounds(max_limit=max_log_page_size),
        max_message_bytes=max_message_bytes,
    )
    log_service_pb2_grpc.add_LogServiceServicer_to_server(logs, services)
    # Reads the rollups the store keeps (the same `rollups` the store was opened with).
    metrics_config = config.metrics
    raw_window_hours = (
        metrics_config.raw_window_hours if metrics_config else DEFAULT_RAW_WINDOW_HOURS
    )
    engine = MetricsEngine(store, rollups, raw_window_ms=int(raw_window_hours * HOUR_MS))
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(MetricsServicer(engine), services)
    response_service_pb2_grpc.add_ResponseServiceServicer_to_server(
        ResponseServicer(store), services
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, services)
    reflection.enable_server_reflection(
        (
            *SERVICE_NAMES,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    port = server.add_insecure_port(address)
    reloader = None
    if config_path is not None:
        reloader = ConfigReloader(
            config_path,
            source,
            environ=env,
            provider_factory=provider_factory,
            poll_seconds=reload_poll_seconds,
        )
    return Core(
        server=server,
        port=port,
        source=source,
        router=router,
        health=health_servicer,
        auth=auth,
        methods=methods,
        reloader=reloader,
    )
