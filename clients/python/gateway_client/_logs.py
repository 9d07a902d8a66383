"""`LogsClient`: the gateway's `LogService`, reached as `GatewayClient.logs`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Literal, TypeAlias

import grpc
from google.protobuf import struct_pb2

from gateway.v1 import log_pb2, log_service_pb2 as pb, log_service_pb2_grpc as pb_grpc

from ._client import USE_CLIENT_DEFAULT, _Timeout, _translate_errors

if TYPE_CHECKING:
    from ._client import GatewayClient

__all__ = ["LogOperator", "LogsClient", "log_filter", "log_sort"]

LogOperator: TypeAlias = Literal[
    "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "IN", "NOT_IN", "CONTAINS"
]  # fmt: skip
"""Operators of `log_filter`."""

JsonScalar: TypeAlias = str | int | float | bool


def log_filter(
    field: str, operator: LogOperator, value: JsonScalar | Sequence[JsonScalar]
) -> pb.LogFieldFilter:
    """One ListLogs condition, e.g. `log_filter("created_at", "GTE", 1731566757568)`.

    Args:
        field: A log field (`created_at`, `model`, `user`, `status`, `cost`, ...) or
            `metadata.<key>`.
        operator: How to compare; `IN` and `NOT_IN` take a list.
        value: Epoch milliseconds for `created_at`; a string, number or bool otherwise.
    """
    proto_value = struct_pb2.Value()
    if isinstance(value, str | int | float | bool):
        _set_scalar(proto_value, value)
    else:
        proto_value.list_value.SetInParent()
        for item in value:
            _set_scalar(proto_value.list_value.values.add(), item)
    return pb.LogFieldFilter(
        field=field,
        operator=pb.LogFilterOperator.Value(f"LOG_FILTER_OPERATOR_{operator}"),
        value=proto_value,
    )


def log_sort(field: str, *, descending: bool = True) -> pb.LogSortField:
    """One ListLogs sort key, newest / largest first unless `descending=False`."""
    return pb.LogSortField(field=field, descending=descending)


def _set_scalar(target: struct_pb2.Value, value: JsonScalar) -> None:
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, str):
        target.string_value = value
    else:
        target.number_value = value


class LogsClient:
    """Records and queries request logs. Get it as `client.logs` on an open `GatewayClient`.

    Example:
        ```python
        page = await client.logs.list(
            filters=[log_filter("metadata.customer_id", "EQ", "123")], limit=50
        )
        for entry in page.log_entries:
            print(entry.id, entry.model, entry.usage.total_tokens)
        ```
    """

    def __init__(self, client: GatewayClient) -> None:
        self._client = client
        self._stub: pb_grpc.LogServiceAsyncStub | None = None
        self._stub_channel: grpc.aio.Channel | None = None

    async def list(
        self,
        request: pb.ListLogsRequest | None = None,
        *,
        filters: Iterable[pb.LogFieldFilter] = (),
        sort: Iterable[pb.LogSortField] = (),
        limit: int = 0,
        offset: int = 0,
        page_token: str = "",
        api_key: str | None = None,
        timeout: _Timeout = USE_CLIENT_DEFAULT,  # noqa: ASYNC109
        request_id: str | None = None,
    ) -> pb.ListLogsResponse:
        """Lists the records the caller may see.

        Args:
            request: A whole request; when given, leave the query arguments unset.
            filters: Conditions a record must all meet (see `log_filter`).
            sort: Sort keys, most significant first (see `log_sort`); default newest first.
            limit: Records per page, 1 to the gateway's maximum; 0 means 25.
            offset: Records to skip.
            page_token: `next_page_token` of a previous page, instead of `offset`.
            api_key: Key for this call instead of the client's.
            timeout: Deadline in seconds instead of the client's; None means none.
            request_id: Id to give the request (`x-request-id`).

        Returns:
            The page, with `total_size` (all pages together) and `next_page_token`.
        """
        query = pb.ListLogsRequest(
            filters=filters,
            sort_fields=sort,
            page_size=limit,
            offset=offset,
            page_token=page_token,
        )
        if request is None:
            request = query
        elif query.ByteSize():
            raise ValueError("pass either `request` or query arguments, not both")
        with _translate_errors():
            return await self._service().ListLogs(
                request, **self._client._call_options(api_key, timeout, request_id)
            )

    async def get(
        self,
        log_id: str,
        *,
        api_key: str | None = None,
        timeout: _Timeout = USE_CLIENT_DEFAULT,  # noqa: ASYNC109
        request_id: str | None = None,
    ) -> log_pb2.LogEntry:
        """Gets one record; raises `NotFoundError` (reason `log_not_found`) when not visible.

        Args:
            log_id: The record's id.
            api_key: Key for this call instead of the client's.
            timeout: Deadline in seconds instead of the client's; None means none.
            request_id: Id to give the request (`x-request-id`).
        """
        with _translate_errors():
            response = await self._service().GetLog(
                pb.GetLogRequest(id=log_id),
                **self._client._call_options(api_key, timeout, request_id),
            )
        return response.log_entry

    async def log(
        self,
        entry: log_pb2.LogEntry,
        *,
        api_key: str | None = None,
        timeout: _Timeout = USE_CLIENT_DEFAULT,  # noqa: ASYNC109
        request_id: str | None = None,
    ) -> str:
        """Records an LLM call made without the gateway, attributed to the caller's key.

        Args:
            entry: The call; `id` and `create_time` are filled in when unset.
            api_key: Key for this call instead of the client's.
            timeout: Deadline in seconds instead of the client's; None means none.
            request_id: Id to give the request (`x-request-id`).

        Returns:
            The id of the stored record.
        """
        with _translate_errors():
            response = await self._service().Log(
                pb.LogRequest(log_entry=entry),
                **self._client._call_options(api_key, timeout, request_id),
            )
        return response.id

    def _service(self) -> pb_grpc.LogServiceAsyncStub:
        channel = self._client._open_channel()
        if self._stub is None or self._stub_channel is not channel:
            self._stub = pb_grpc.LogServiceStub(channel)
            self._stub_channel = channel
        return self._stub
