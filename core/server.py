"""Builds the core: providers, pipeline, servicers, and the grpc.aio server (health, reflection)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from core.auth import KeyRing
from core.config.loader import GatewayConfig
from core.config.models import ProviderAccount
from core.interceptors import GatewayInterceptor
from core.models import ModelRegistry, build_registry
from core.pipeline import ChatPipeline
from core.providers.base import Provider
from core.providers.factory import build_provider
from core.servicers.pending import PendingLogServicer, PendingMetricsServicer
from core.servicers.route import RouteServicer
from gateway.v1 import (
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
)


@dataclass(slots=True)
class Core:
    """A built, not yet started, core; `stop()` drains and closes upstream pools."""

    server: grpc.aio.Server
    port: int
    models: ModelRegistry
    health: health.aio.HealthServicer

    async def start(self) -> None:
        await self.server.start()
        for name in (*SERVICE_NAMES, ""):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        await self.models.aclose()


def build_core(
    config: GatewayConfig,
    *,
    admin_key: str,
    address: str,
    max_message_bytes: int = 16 * 1024 * 1024,
    environ: Mapping[str, str] | None = None,
    provider_factory: Callable[[ProviderAccount, str | None], Provider] = build_provider,
) -> Core:
    """Creates providers (inside the running loop) and binds `address` (port 0 picks one)."""
    models = build_registry(config, os.environ if environ is None else environ, provider_factory)
    keys = KeyRing(admin_key, config.api_keys)
    server = grpc.aio.server(
        interceptors=[GatewayInterceptor(keys)],
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    route_service_pb2_grpc.add_RouteServiceServicer_to_server(
        RouteServicer(ChatPipeline(models), models), server
    )
    # Declared now, served by the request-log and metrics work: until then UNIMPLEMENTED.
    log_service_pb2_grpc.add_LogServiceServicer_to_server(PendingLogServicer(), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(PendingMetricsServicer(), server)
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
    return Core(server=server, port=port, models=models, health=health_servicer)
