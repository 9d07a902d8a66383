"""LogService and MetricsService: declared in the protos, answered UNIMPLEMENTED until built."""

from __future__ import annotations

from typing import Any, NoReturn

import grpc

from core.errors import NotImplementedYet
from gateway.v1 import (
    log_service_pb2 as logs,
    log_service_pb2_grpc as logs_grpc,
    metrics_service_pb2 as metrics,
    metrics_service_pb2_grpc as metrics_grpc,
)

Context = grpc.aio.ServicerContext[Any, Any]


def _pending(rpc: str) -> NoReturn:
    raise NotImplementedYet(f"{rpc} is declared but not served by this version of the gateway")


class PendingLogServicer(logs_grpc.LogServiceServicer):
    """Until request logs are stored."""

    async def Log(self, request: logs.LogRequest, context: Context) -> logs.LogResponse:
        _pending("LogService.Log")

    async def ListLogs(
        self, request: logs.ListLogsRequest, context: Context
    ) -> logs.ListLogsResponse:
        _pending("LogService.ListLogs")

    async def GetLog(self, request: logs.GetLogRequest, context: Context) -> logs.GetLogResponse:
        _pending("LogService.GetLog")


class PendingMetricsServicer(metrics_grpc.MetricsServiceServicer):
    """Until metrics are aggregated."""

    async def QueryMetrics(
        self, request: metrics.QueryMetricsRequest, context: Context
    ) -> metrics.QueryMetricsResponse:
        _pending("MetricsService.QueryMetrics")
