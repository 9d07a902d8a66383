"""`MetricsClient`: the gateway's `MetricsService`, reached as `GatewayClient.metrics`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, TypeAlias

from gateway.v1 import (
    log_service_pb2,
    metrics_pb2,
    metrics_service_pb2 as pb,
    metrics_service_pb2_grpc as pb_grpc,
)

from ._client import USE_CLIENT_DEFAULT, _Timeout, _translate_errors

if TYPE_CHECKING:
    from ._client import GatewayClient

__all__ = ["MetricsClient", "MetricsInterval"]

MetricsInterval: TypeAlias = Literal["minute", "hour", "day", "week", "month", "auto"]
"""Time buckets of `MetricsClient.query`."""


class MetricsClient:
    """Usage, cost and latency of logged calls. Get it as `client.metrics`.

    Example:
        ```python
        answer = await client.metrics.query(
            start_ms=now_ms - 86_400_000, group_by=["metadata.customer_id"], interval="hour"
        )
        for row in answer.rows:
            print(row.group, row.bucket_start_time.ToMilliseconds(), row.requests, row.cost)
        ```
    """

    def __init__(self, client: GatewayClient) -> None:
        self._client = client

    async def query(
        self,
        request: pb.QueryMetricsRequest | None = None,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        filters: Iterable[log_service_pb2.LogFieldFilter] = (),
        group_by: Iterable[str] = (),
        interval: MetricsInterval | None = None,
        limit: int = 0,
        percentiles: bool | None = None,
        api_key: str | None = None,
        timeout: _Timeout = USE_CLIENT_DEFAULT,  # noqa: ASYNC109
        request_id: str | None = None,
    ) -> pb.QueryMetricsResponse:
        """Figures of the calls the caller may see, grouped and bucketed by time.

        Args:
            request: A whole request; when given, leave the query arguments unset.
            start_ms: Start of the period, epoch milliseconds (required without `request`).
            end_ms: End of the period (exclusive); None means now.
            filters: Conditions a call must all meet (see `log_filter`).
            group_by: Fields to group by: `model`, `user`, `team`, `metadata.<key>`, ...
            interval: Time buckets; None gives one row per group for the whole period.
            limit: Most groups, 1 to 1000; 0 means the gateway's default (the rest fold into
                an `other` row).
            percentiles: False leaves latency percentiles out (faster); None means true.
            api_key: Key for this call instead of the client's.
            timeout: Deadline in seconds instead of the client's; None means none.
            request_id: Id to give the request (`x-request-id`).
        """
        query = pb.QueryMetricsRequest(filters=filters, group_by=group_by, limit=limit)
        if start_ms is not None:
            query.start_time.FromMilliseconds(start_ms)
        if end_ms is not None:
            query.end_time.FromMilliseconds(end_ms)
        if percentiles is not None:
            query.percentiles = percentiles
        if interval is not None:
            query.interval = metrics_pb2.MetricsInterval.Value(
                f"METRICS_INTERVAL_{interval.upper()}"
            )
        if request is None:
            request = query
        elif query.ByteSize():  # every argument set (a zero time, percentiles=False) is sent
            raise ValueError("pass either `request` or query arguments, not both")
        stub = pb_grpc.MetricsServiceStub(self._client._open_channel())
        with _translate_errors():
            return await stub.QueryMetrics(
                request, **self._client._call_options(api_key, timeout, request_id)
            )
