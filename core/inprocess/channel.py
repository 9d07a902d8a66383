"""`InProcessChannel`: a grpc.aio channel whose calls run core's servicers in this process."""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import grpc

from core.inprocess.calls import UnaryStreamCall, UnaryUnaryCall
from core.inprocess.context import InProcessContext
from core.inprocess.methods import MethodTable


class _Starter:
    """Starts an in-process call of one method (what a stub's multi-callable does)."""

    _call: type[UnaryUnaryCall] | type[UnaryStreamCall]

    def __init__(self, table: MethodTable, method: str) -> None:
        self._table, self._method = table, method

    def __call__(
        self,
        request: Any,
        *,
        timeout: float | None = None,
        metadata: grpc.aio.Metadata | Sequence[tuple[str, str | bytes]] | None = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        context = InProcessContext(tuple(metadata or ()), deadline)
        return self._call(self._table, self._method, request, context, timeout)


class _UnaryUnary(_Starter, grpc.aio.UnaryUnaryMultiCallable[Any, Any]):
    _call = UnaryUnaryCall


class _UnaryStream(_Starter, grpc.aio.UnaryStreamMultiCallable[Any, Any]):
    _call = UnaryStreamCall


class InProcessChannel(grpc.aio.Channel):
    """Serves the generated stubs' unary and server-streaming calls from a `MethodTable`.

    Messages are handed over as they are, not serialized: neither side may change one
    after handing it over (the servicers and the client never do).
    """

    def __init__(self, table: MethodTable) -> None:
        self._table = table

    def unary_unary(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        _registered_method: bool | None = False,
    ) -> _UnaryUnary:
        return _UnaryUnary(self._table, method)

    def unary_stream(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        _registered_method: bool | None = False,
    ) -> _UnaryStream:
        return _UnaryStream(self._table, method)

    def stream_unary(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the gateway declares no client-streaming RPCs")

    def stream_stream(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the gateway declares no client-streaming RPCs")

    async def close(self, grace: float | None = None) -> None:
        """Calls in flight belong to their callers' tasks; core's shutdown drains them."""

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return grpc.ChannelConnectivity.READY

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        """The state never changes."""

    async def channel_ready(self) -> None:
        """Always ready."""

    async def __aenter__(self) -> InProcessChannel:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
