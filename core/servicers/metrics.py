"""MetricsService: usage, cost and latency of logged calls, grouped and bucketed.

Scoped like the logs: a key sees its own calls, a team admin's key also its teams', the
admin key every call (`core.access.log_scope`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from core.access import log_scope
from core.interceptors import current_principal
from core.logs.convert import timestamp_from_ms
from core.usage import histogram
from core.usage.engine import MetricsEngine, MetricsRow
from core.usage.query import INTERVAL_NAMES, query_from_request
from core.usage.totals import Totals
from gateway.v1 import (
    metrics_pb2,
    metrics_service_pb2 as pb,
    metrics_service_pb2_grpc as pb_grpc,
)

Context = grpc.aio.ServicerContext[Any, Any]

QUANTILES = (0.5, 0.9, 0.99)
_INTERVALS: dict[str | None, metrics_pb2.MetricsInterval.ValueType] = {
    name: number for number, name in INTERVAL_NAMES.items()
}


class MetricsServicer(pb_grpc.MetricsServiceServicer):
    """Checks the query (core/usage/query.py) and runs it (core/usage/engine.py)."""

    def __init__(self, engine: MetricsEngine, *, clock: Callable[[], int] = time.time_ns) -> None:
        self._engine = engine
        self._clock = clock

    async def QueryMetrics(
        self, request: pb.QueryMetricsRequest, context: Context
    ) -> pb.QueryMetricsResponse:
        scope = log_scope(current_principal())
        query = query_from_request(request, scope, self._clock() // 1_000_000)
        result = await self._engine.run(query)
        return pb.QueryMetricsResponse(
            rows=[_row(row, query.group_by) for row in result.rows],
            totals=_figures(result.totals),
            interval=_INTERVALS.get(result.interval, metrics_pb2.METRICS_INTERVAL_UNSPECIFIED),
            start_time=timestamp_from_ms(result.start),
            end_time=timestamp_from_ms(result.end),
        )


def _row(row: MetricsRow, group_by: Sequence[str]) -> metrics_pb2.MetricsRow:
    out = _figures(row.totals)
    out.other = row.other
    if row.bucket_start is not None:
        out.bucket_start_time.CopyFrom(timestamp_from_ms(row.bucket_start))
    for name, value in zip(group_by, row.group, strict=False):
        if value is not None:
            out.group[name] = _text(value)
    return out


def _text(value: object) -> str:
    # As JSON writes them: `true`, `200`, text unchanged.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _figures(totals: Totals) -> metrics_pb2.MetricsRow:
    """A row's figures; percentiles of the histograms that hold values (a query without
    percentiles reads none)."""
    out = metrics_pb2.MetricsRow(
        requests=totals.requests,
        errors=totals.errors,
        input_tokens=totals.input_tokens,
        output_tokens=totals.output_tokens,
        total_tokens=totals.total_tokens,
        cost=totals.cost,
    )
    for field, values in (
        ("latency", totals.latency),
        ("time_to_first_token", totals.ttft),
        ("gateway_overhead", totals.overhead),
    ):
        found = histogram.summary(values, QUANTILES)
        if found is not None:
            count, (p50, p90, p99) = found
            target = getattr(out, field)
            target.count, target.p50_ms, target.p90_ms, target.p99_ms = count, p50, p90, p99
    return out
