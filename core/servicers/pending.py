"""MetricsService: declared in the protos, answered UNIMPLEMENTED until built."""

from __future__ import annotations

from typing import Any, NoReturn

import grpc

from core.errors import NotImplementedYet
from gateway.v1 import metrics_service_pb2 as metrics, metrics_service_pb2_grpc as metrics_grpc

Context = grpc.aio.ServicerContext[Any, Any]


def _pending(rpc: str) -> NoReturn:
    raise NotImplementedYet(f"{rpc} is declared but not served by this version of the gateway")


class PendingMetricsServicer(metrics_grpc.MetricsServiceServicer):
    """Until metrics are aggregated."""

    async def QueryMetrics(
        self, request: metrics.QueryMetricsRequest, context: Context
    ) -> metrics.QueryMetricsResponse:
        _pending("MetricsService.QueryMetrics")
