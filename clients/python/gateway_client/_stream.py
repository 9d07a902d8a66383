"""`ChatStream`: one `StreamRoute` call, as an async context manager and iterator."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType

import grpc

from gateway.v1 import route_service_pb2

from ._errors import CallCancelledError, from_rpc_error

__all__ = ["ChatStream", "StreamInfo"]

REQUEST_ID_KEY = "x-request-id"
RESOLVED_MODEL_KEY = "x-tfy-resolved-model"
LOG_ID_KEY = "x-tfy-log-id"
_HEADER_PREFIXES = ("x-tfy-", "x-ratelimit-")


def response_headers(*sources: grpc.aio.Metadata | None) -> dict[str, str]:
    """The gateway's `x-tfy-*` and `x-ratelimit-*` call metadata, as HTTP would carry it."""
    headers: dict[str, str] = {}
    for source in sources:
        for key, value in source or ():
            if isinstance(value, str) and key.startswith(_HEADER_PREFIXES):
                headers[key] = value
    return headers


_StreamCall = grpc.aio.UnaryStreamCall[
    route_service_pb2.StreamRouteRequest, route_service_pb2.StreamRouteResponse
]


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What the gateway tells about a stream before its first event.

    Attributes:
        request_id: The gateway's id of the request (`x-request-id`).
        resolved_model: The `account/model` that answers, after routing and fallback.
        headers: What the gateway says about the call: `x-tfy-resolved-model`,
            `x-tfy-applied-configurations` (JSON: rule ids by config type), and
            `x-ratelimit-limit-*` / `x-ratelimit-remaining-*` when rate limits apply.
    """

    request_id: str
    resolved_model: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def log_id(self) -> str:
        """The id of the call's log record (`x-tfy-log-id`)."""
        return self.headers.get(LOG_ID_KEY, self.request_id)


class ChatStream:
    """A streamed chat completion: `ChatDelta` events, then one final `ChatResult` event.

    Use it as `async with client.stream_route(params) as stream:`, call `await stream.start()`
    to learn the resolved model (and to surface errors that happened before the first event),
    then `async for event in stream`. Leaving the `async with` block early cancels the call.
    Errors raise `GatewayError` subclasses.
    """

    def __init__(self, call: _StreamCall) -> None:
        self._call = call
        self._info: StreamInfo | None = None
        self._cancelled = False
        self._pending: deque[route_service_pb2.StreamRouteResponse] = deque()

    @property
    def info(self) -> StreamInfo | None:
        """What `start()` returned, or None before it has."""
        return self._info

    async def start(self) -> StreamInfo:
        """Waits for the gateway's initial metadata.

        Returns:
            The request id and resolved model of the stream.

        Raises:
            GatewayError: The call failed before its first event (bad key, unknown model,
                provider down, ...).
        """
        if self._info is not None:
            return self._info
        try:
            initial = await self._call.initial_metadata()
        except grpc.aio.AioRpcError as err:
            raise from_rpc_error(err) from err
        request_id = initial.get(REQUEST_ID_KEY)
        resolved_model = initial.get(RESOLVED_MODEL_KEY)
        if (request_id is None or resolved_model is None) and self._call.done():
            # Core sends both keys once the provider answered; a call that fails earlier
            # ends "trailers-only", so the initial metadata is empty and the status is final.
            code = await self._call.code()
            if code != grpc.StatusCode.OK:
                raise from_rpc_error(
                    grpc.aio.AioRpcError(
                        code,
                        initial,
                        await self._call.trailing_metadata(),
                        await self._call.details(),
                    )
                )
        self._info = StreamInfo(_text(request_id), _text(resolved_model), response_headers(initial))
        return self._info

    def cancel(self) -> bool:
        """Cancels the call, and with it the gateway's request to the provider.

        Returns:
            True if the call was still running.
        """
        cancelled = self._call.cancel()
        self._cancelled = self._cancelled or cancelled
        return cancelled

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> route_service_pb2.StreamRouteResponse:
        while not self._pending:
            event = await self._read()
            if not event.HasField("deltas"):
                return event
            # Pieces the gateway sent together: handed out one by one, as it would have.
            self._pending.extend(
                route_service_pb2.StreamRouteResponse(delta=delta) for delta in event.deltas.deltas
            )
        return self._pending.popleft()

    async def _read(self) -> route_service_pb2.StreamRouteResponse:
        try:
            event = await self._call.read()
        except grpc.aio.AioRpcError as err:
            raise from_rpc_error(err) from err
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._cancelled and (task is None or not task.cancelling()):
                # grpc.aio reports a locally cancelled call as CancelledError; only our
                # own task being cancelled may propagate as that.
                raise CallCancelledError("The stream was cancelled by the client.") from None
            raise
        if isinstance(event, route_service_pb2.StreamRouteResponse):
            return event
        raise StopAsyncIteration

    async def __aenter__(self) -> ChatStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value
