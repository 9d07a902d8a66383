"""Builds the core: providers, pipeline, servicers, and the grpc.aio server (health, reflection)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from core.auth import Authenticator
from core.config.loader import GatewayConfig
from core.config.models import DEFAULT_RAW_WINDOW_HOURS, ProviderAccount
from core.identity.keys import KeyManager
from core.interceptors import GatewayInterceptor
from core.logs.query import MAX_LIMIT, PageBounds
from core.models import ModelRegistry, build_registry
from core.pipeline import ChatPipeline
from core.providers.base import Provider
from core.providers.factory import build_provider
from core.recording import CallRecorder
from core.servicers.keys import KeyServicer
from core.servicers.logs import LogServicer, LogSink
from core.servicers.metrics import MetricsServicer
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
    route_service_pb2,
    route_service_pb2_grpc,
)

SERVICE_NAMES = (
    route_service_pb2.DESCRIPTOR.services_by_name["RouteService"].full_name,
    log_service_pb2.DESCRIPTOR.services_by_name["LogService"].full_name,
    metrics_service_pb2.DESCRIPTOR.services_by_name["MetricsService"].full_name,
    key_service_pb2.DESCRIPTOR.services_by_name["KeyService"].full_name,
)


@dataclass(slots=True)
class Core:
    """A built, not yet started, core; `stop()` drains and closes upstream pools."""

    server: grpc.aio.Server
    port: int
    models: ModelRegistry
    health: health.aio.HealthServicer
    auth: Authenticator

    async def start(self) -> None:
        await self.server.start()
        self.auth.start()
        for name in (*SERVICE_NAMES, ""):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        await self.auth.stop()
        await self.models.aclose()


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
    max_message_bytes: int = 16 * 1024 * 1024,
    environ: Mapping[str, str] | None = None,
    provider_factory: Callable[[ProviderAccount, str | None], Provider] = build_provider,
) -> Core:
    """Creates providers (inside the running loop) and binds `address` (port 0 picks one)."""
    models = build_registry(config, os.environ if environ is None else environ, provider_factory)
    auth = Authenticator(store, admin_key, config.api_keys, cache_ttl_seconds=key_cache_ttl_seconds)
    server = grpc.aio.server(
        interceptors=[GatewayInterceptor(auth)],
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    route_service_pb2_grpc.add_RouteServiceServicer_to_server(
        RouteServicer(ChatPipeline(models), models, recorder), server
    )
    keys = KeyManager(store, [r.id for r in models.routes()], on_change=auth.forget)
    key_service_pb2_grpc.add_KeyServiceServicer_to_server(KeyServicer(keys), server)
    # LogService.Log writes through the log pipeline when given one, else straight to the store.
    logs = LogServicer(store, sink=log_sink, bounds=PageBounds(max_limit=max_log_page_size))
    log_service_pb2_grpc.add_LogServiceServicer_to_server(logs, server)
    # Reads the rollups the store keeps (the same `rollups` the store was opened with).
    metrics_config = config.metrics
    raw_window_hours = (
        metrics_config.raw_window_hours if metrics_config else DEFAULT_RAW_WINDOW_HOURS
    )
    engine = MetricsEngine(store, rollups, raw_window_ms=int(raw_window_hours * HOUR_MS))
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(MetricsServicer(engine), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            *SERVICE_NAMES,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    port = server.add_insecure_port(address)
    return Core(server=server, port=port, models=models, health=health_servicer, auth=auth)
