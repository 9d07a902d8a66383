"""One server interceptor: request id, authentication, and GatewayError -> gRPC status.

It also decodes each request itself: grpc.aio answers a request message its deserializer
cannot parse with UNKNOWN and the exception's class name; here it is INVALID_ARGUMENT, after
the key is checked, like any other bad request.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeAlias, cast

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

from core.auth import Authenticator, Principal
from core.errors import ERROR_DOMAIN, GatewayError, InternalError, InvalidRequest
from core.ids import new_id

log = logging.getLogger(__name__)

_request_id: ContextVar[str] = ContextVar("request_id", default="")
_request_id_from_caller: ContextVar[bool] = ContextVar("request_id_from_caller", default=False)
_principal: ContextVar[Principal | None] = ContextVar("principal", default=None)

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# Health checks and reflection answer without a key, as load balancers and grpcurl expect.
OPEN_METHOD_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
Deserializer: TypeAlias = Callable[[bytes], Any]


class Undecodable:
    """What a request message that does not parse becomes, until the call can refuse it."""

    __slots__ = ("error",)

    def __init__(self, error: InvalidRequest) -> None:
        self.error = error


def lenient(deserialize: Deserializer | None, method: str) -> Deserializer | None:
    """`deserialize`, returning an Undecodable instead of raising DecodeError."""
    if deserialize is None:  # pragma: no cover - generated handlers always have one
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except DecodeError as exc:
            # upb's text names its internals (upb_DecodeOptions_MaxDepth): say what it means.
            why = (
                "it nests messages more than 100 levels deep (protobuf's limit; each level "
                "of a JSON object in a google.protobuf.Struct takes three)"
                if "Depth" in str(exc)
                else "its bytes are not a protobuf message of that type"
            )
            return Undecodable(
                InvalidRequest(f"the request message of {method} cannot be decoded: {why}")
            )

    return parse


def request_id_from_caller() -> bool:
    """Whether the caller chose the request id (so it may not be unique)."""
    return _request_id_from_caller.get()


def current_request_id() -> str:
    """Request id of the call being served."""
    return _request_id.get()


def current_principal() -> Principal:
    """Authenticated caller of the call being served."""
    principal = _principal.get()
    if principal is None:  # pragma: no cover - only reachable by a wiring bug
        raise InternalError("no authenticated principal in context")
    return principal


def status_details(error: GatewayError) -> bytes:
    """`grpc-status-details-bin` for an error: a google.rpc.Status holding ErrorInfo."""
    metadata = {**error.details, "http_status": str(error.http_code())}
    if error.param:
        metadata["param"] = error.param
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=metadata)
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(
        code=error.status_code().value[0], message=error.message, details=[detail]
    )
    return cast(bytes, status.SerializeToString())


async def abort_with(context: grpc.aio.ServicerContext[Any, Any], error: GatewayError) -> None:
    """Ends the call with the error's status code, message and ErrorInfo, and the request's
    id (`x-request-id`, as a successful call has it in its headers)."""
    trailing: tuple[tuple[str, str | bytes], ...] = (
        ("grpc-status-details-bin", status_details(error)),
    )
    request_id = current_request_id()
    if request_id:
        trailing += (("x-request-id", request_id),)
    context.set_trailing_metadata(trailing)
    await context.abort(error.status_code(), error.message)


class GatewayInterceptor(grpc.aio.ServerInterceptor):
    """Wraps each gateway RPC once; the wrapped handlers are cached per method."""

    def __init__(self, auth: Authenticator) -> None:
        self._auth = auth
        self._wrapped: dict[str, Handler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None:
            return cached
        handler = await continuation(handler_call_details)
        if handler is None or method.startswith(OPEN_METHOD_PREFIXES):
            return handler
        wrapped = self._wrap(handler, method)
        self._wrapped[method] = wrapped
        return wrapped

    def _wrap(self, handler: Handler, method: str) -> Handler:
        deserialize = lenient(handler.request_deserializer, method)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary),
                request_deserializer=deserialize,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._streaming(cast(Callable[..., AsyncIterator[Any]], handler.unary_stream)),
                request_deserializer=deserialize,
                response_serializer=handler.response_serializer,
            )
        return handler  # pragma: no cover - the gateway declares no client-streaming RPCs

    async def _enter(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        authorization = None
        request_id = ""
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                authorization = value if isinstance(value, str) else value.decode()
            elif key == "x-request-id" and isinstance(value, str) and _REQUEST_ID_OK.match(value):
                request_id = value
        _request_id.set(request_id or new_id())
        _request_id_from_caller.set(bool(request_id))
        _principal.set(await self._auth.authenticate(authorization))
        if isinstance(request, Undecodable):  # only now: the key is checked before the body
            raise request.error

    def _unary(self, behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            try:
                await self._enter(request, context)
                return await behavior(request, context)
            except GatewayError as error:
                await abort_with(context, error)
            except Exception as error:
                await abort_with(context, _internal(error))

        return wrapper

    def _streaming(
        self, behavior: Callable[..., AsyncIterator[Any]]
    ) -> Callable[..., AsyncIterator[Any]]:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            try:
                await self._enter(request, context)
                async for response in behavior(request, context):
                    yield response
            except GatewayError as error:
                await abort_with(context, error)
            except Exception as error:
                await abort_with(context, _internal(error))

        return wrapper


def _internal(error: Exception) -> GatewayError:
    # grpc.aio signals context.abort() with an exception of its own: let it pass untouched.
    if isinstance(error, grpc.aio.AbortError):
        raise error
    log.exception("unexpected error serving request %s", current_request_id())
    return InternalError(f"internal error (request id {current_request_id()})")
