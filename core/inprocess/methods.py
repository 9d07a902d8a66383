"""The method handlers of the gateway's services, as a grpc.aio server would hold them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeAlias

import grpc

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
Metadata: TypeAlias = tuple[tuple[str, str | bytes], ...]


class _CallDetails(grpc.HandlerCallDetails):
    """What a server interceptor learns of a call."""

    def __init__(self, method: str, metadata: Metadata) -> None:
        self.method = method
        self.invocation_metadata = metadata


class MethodTable:
    """Handlers by full method name, filled by the generated `add_*_to_server` functions.

    `handler()` runs the server interceptors exactly as the gRPC server does, so an in-process
    call is authenticated, given a request id and has its errors mapped the same way.
    """

    def __init__(self, interceptors: Sequence[grpc.aio.ServerInterceptor] = ()) -> None:
        self._handlers: dict[str, Handler] = {}
        resolve: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]] = self._lookup
        for interceptor in reversed(interceptors):
            resolve = _chain(interceptor, resolve)
        self._resolve = resolve

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        """Generated code registers each service twice; the per-method call below suffices."""

    def add_registered_method_handlers(self, service: str, handlers: Mapping[str, Handler]) -> None:
        for name, handler in handlers.items():
            self._handlers[f"/{service}/{name}"] = handler

    async def handler(self, method: str, metadata: Metadata) -> Handler | None:
        """The handler serving `method` after every interceptor, or None if there is none."""
        return await self._resolve(_CallDetails(method, metadata))

    async def _lookup(self, details: grpc.HandlerCallDetails) -> Handler | None:
        return self._handlers.get(details.method)


def _chain(
    interceptor: grpc.aio.ServerInterceptor,
    continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
) -> Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]]:
    async def intercepted(details: grpc.HandlerCallDetails) -> Handler | None:
        return await interceptor.intercept_service(continuation, details)

    return intercepted


class Registrations:
    """Registers each service on several servers: the socket one and the in-process table."""

    def __init__(self, *servers: grpc.aio.Server | MethodTable) -> None:
        self._servers = servers

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        for server in self._servers:
            server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service: str, handlers: Mapping[str, Handler]) -> None:
        for server in self._servers:
            server.add_registered_method_handlers(service, handlers)
