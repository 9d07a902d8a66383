"""`GatewayClient`: the typed async client of the gateway's `RouteService`."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

import grpc

from gateway.v1 import chat_pb2, route_service_pb2, route_service_pb2_grpc

from ._errors import AuthenticationError, InvalidRequestError, from_rpc_error
from ._stream import LOG_ID_KEY, REQUEST_ID_KEY, RESOLVED_MODEL_KEY, ChatStream, response_headers

METADATA_JSON_KEY = "x-tfy-metadata-bin"
API_KEY = "x-gateway-api"
"""The API a call came in through, for its log record (`GatewayClient.route(api=...)`)."""

if TYPE_CHECKING:
    from ._keys import KeysClient
    from ._logs import LogsClient
    from ._metrics import MetricsClient
    from ._responses import ResponsesClient

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "USE_CLIENT_DEFAULT",
    "EmbedResult",
    "GatewayClient",
    "RouteResult",
    "UseClientDefault",
]


class UseClientDefault(enum.Enum):
    """Type of `USE_CLIENT_DEFAULT`: a per-call argument left to the client's default."""

    USE_CLIENT_DEFAULT = enum.auto()


USE_CLIENT_DEFAULT: Final = UseClientDefault.USE_CLIENT_DEFAULT
"""Marks a per-call `timeout` as "the client's default" (None means no deadline)."""

DEFAULT_MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024
"""Largest gRPC message a client sends or receives unless told otherwise: the gateway's own
default (GATEWAY_GRPC_MAX_MESSAGE_BYTES), where grpc's is 4 MiB received."""

# A gRPC deadline, not an asyncio timeout: core sees it and stops the provider call too.
_Timeout: TypeAlias = float | Literal[UseClientDefault.USE_CLIENT_DEFAULT] | None


@dataclass(frozen=True, slots=True)
class RouteResult:
    """The answer of `GatewayClient.route`.

    Attributes:
        result: The whole chat completion.
        request_id: The gateway's id of the request (`x-request-id`).
        resolved_model: The `account/model` that answered, after routing and fallback.
        headers: What the gateway says about the call (`x-tfy-*`, `x-ratelimit-*`).
    """

    result: chat_pb2.ChatResult
    request_id: str
    resolved_model: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def log_id(self) -> str:
        """The id of the call's log record (`x-tfy-log-id`): the request id, or for a
        caller's own `x-request-id`, `<that id>.<suffix>` (each call has its own record)."""
        return self.headers.get(LOG_ID_KEY, self.request_id)


@dataclass(frozen=True, slots=True)
class EmbedResult:
    """The answer of `GatewayClient.embed_call`.

    Attributes:
        response: The embeddings.
        request_id: The gateway's id of the request (`x-request-id`).
        headers: What the gateway says about the call (`x-tfy-*`, `x-ratelimit-*`).
    """

    response: route_service_pb2.EmbedResponse
    request_id: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def log_id(self) -> str:
        """The id of the call's log record (`x-tfy-log-id`): the request id, or for a
        caller's own `x-request-id`, `<that id>.<suffix>` (each call has its own record)."""
        return self.headers.get(LOG_ID_KEY, self.request_id)


@contextmanager
def _translate_errors() -> Iterator[None]:
    try:
        yield
    except grpc.aio.AioRpcError as err:
        raise from_rpc_error(err) from err


class GatewayClient:
    """Async client of the gateway over gRPC.

    Example:
        ```python
        async with GatewayClient("localhost:50051", api_key="sk-...") as client:
            answer = await client.route(params)
        ```

    Every method raises a `GatewayError` subclass when the call fails.
    """

    def __init__(
        self,
        target: str,
        *,
        api_key: str | None = None,
        timeout: float | None = 60.0,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        channel_options: Sequence[tuple[str, Any]] = (),
        channel: grpc.aio.Channel | None = None,
    ) -> None:
        """Configures the client; the channel opens on `async with`.

        Args:
            target: The gateway's gRPC address, e.g. `localhost:50051`.
            api_key: Key sent as `authorization: Bearer <key>` unless a call overrides it.
            timeout: Default deadline of a call in seconds; None means none.
            max_message_bytes: Largest message sent or received, both ways; set it to the
                gateway's GATEWAY_GRPC_MAX_MESSAGE_BYTES. A bigger one fails the call with
                `RequestTooLargeError` (sent) or `ResponseTooLargeError` (received).
            channel_options: Options passed to `grpc.aio.insecure_channel`; they win over
                `max_message_bytes`.
            channel: A channel to call through instead of one to `target` (the gateway's
                `serve` gives its facade an in-process one); the client closes it on exit.
        """
        if max_message_bytes < 1:
            raise ValueError(f"max_message_bytes must be 1 or more; got {max_message_bytes}")
        self._target = target
        self._api_key = api_key
        self._timeout = timeout
        # grpc's defaults (4 MiB received, unlimited sent) would turn any answer between 4 MiB
        # and the gateway's limit into an error, so both directions follow one setting.
        options: dict[str, Any] = {
            "grpc.max_receive_message_length": max_message_bytes,
            "grpc.max_send_message_length": max_message_bytes,
        }
        options.update(channel_options)
        self._channel_options = list(options.items())
        self._given_channel = channel
        self._channel: grpc.aio.Channel | None = None
        self._stub: route_service_pb2_grpc.RouteServiceAsyncStub | None = None

    async def __aenter__(self) -> GatewayClient:
        if self._channel is not None:
            raise RuntimeError("GatewayClient is already open")
        self._channel = self._given_channel or grpc.aio.insecure_channel(
            self._target, options=self._channel_options
        )
        self._stub = route_service_pb2_grpc.RouteServiceStub(self._channel)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            await channel.close()

    async def route(
        self,
        params: chat_pb2.ChatParams,
        *,
        metadata: Mapping[str, str] | None = None,
        metadata_json: bytes | None = None,
        api_key: str | None = None,
        timeout: _Timeout = USE_CLIENT_DEFAULT,  # noqa: ASYNC109
        request_id: str | None = None,
        api: str | None = None,
    ) -> RouteResult:
        """Runs a chat completion and returns the whole answer.

        Args:
            params: The chat completion to run.
            metadata: Custom metadata (`X-TFY-METADATA`): string values, at most 128 characters.
            metadata_json: The same as JSON text (an `X-TFY-METADATA` header as received),
                checked by the gateway; used when `metadata` is empty.
            api_key: Key for this call instead of the client's.
            timeout: Deadline in seconds instead of the client's; None means none.
            request_id: Id to give the request (`x-request-id`); the gateway makes one if unset.
            api: The API the call came in through, recorded in its log record (the
                facade names the HTTP API it translated); unset records `grpc`.

        Returns:
            The answer with the request id and the model that answered.
        """
        request = route_service_pb2.RouteRequest(params=params, metadata=metadata)
        call = self._route_stub().Route(
            request,
            metadata=self._call_metadata(api_key, request_id, metadata_json, api),
            timeout=self._deadline(timeout),
        )
        with _translate_errors():
            response = await call
            initial = await call.initial_metadata()
            trailing = await call.trailing_metadata()
        return RouteResult(
            result=response.result,
            request_id=_lookup(REQUEST_ID_KEY, initial, trailing),
            resolved_model=_lookup(RESOLVED_MODEL_KEY, initial, trailing),
            headers=response_headers(initial),
        )

    def stream_route(
        self,
        params: chat_pb2.ChatParams,
        *,
        metadata: Mapping[str, str] | None = None,
        metadata_json: bytes | None = None,
        api_key: str | None = None,
        timeout: _Timeout = USE_CLIENT_DEFAULT,
        request_id: str | None = None,
        api: str | None = None,
    ) -> ChatStream:
        """Starts a streamed chat completion.

        Args:
            params: The chat completion to run.
            metadata: Custom metadata (`X-TFY-METADATA`): string values, at most 128 characters.
            metadata_json: The same as JSON text (an `X-TFY-METADATA` header as received),
                checked by the gateway; used when `metadata` is empty.
            api_key: Key for this call instead of the client's.
            timeout: Deadline in seconds of the whole stream instead of the client's.
            request_id: Id to give the request (`x-request-id`); the gateway makes one if unset.
            api: The API the call came in through, recorded in its log record (the
                facade names the HTTP API it translated); unset records `grpc`.

        Returns:
            The running stream; `await stream.start()` then iterate it.
        """
        # ChatStream unpacks batched deltas, so the gateway may send ready pieces together.
        request = route_service_pb2.StreamRouteRequest(
            params=params, metadata=metadata, batch_deltas=True
        )
        call = self._route_stub().StreamRoute(
            request,
            metadata=self._call_metadata(api_key, request_id, metadata_json, api),
            timeout=self._deadline(timeout),
        )
        return ChatStream(call)

    async def list_models(
        self,
        *,
        api_key: str | None = None,
        timeout: _Timeout = USE_CLIENT_DEFAULT,  # noqa: ASYNC109
        request_id: str | None = None,
    ) -> list[route_service_pb2.Model]:
        """Lists the models the caller can use, sorted by id.

        Args:
            api_key: Key for this call instead of the client's.
            timeout: Deadline in seconds instead of the client's; None means none.
            request_id: Id to give the request (`x-request-id`).

        Returns:
            The models.
        """
        with _translate_errors():
            response = await self._route_stub().ListModels(
                route_service_pb2.ListModelsRequest(),
                metadata=self._call_metadata(api_key, request_id),
                timeout=self._deadline(timeout),
            )
        return list(response.models)

    async def embed(
        self,
        request: route_service_pb2.EmbedRequest,
        *,
        metadata: Mapping[str, str] | None = None,
        metadata_json: bytes | None = None,
        api_key: str | None = None,
        timeout: _Timeout = USE_CLIENT_DEFAULT,  # noqa: ASYNC109
        request_id: str | None = None,
    ) -> route_service_pb2.EmbedResponse:
        """Computes embeddings.

        Args:
            request: Model and inputs; it is not modified.
            metadata: Custom metadata, merged over `request.metadata`.
            metadata_json: Custom metadata as JSON text (an `X-TFY-METADATA` header as
                received), checked by the gateway; used when no typed metadata is set.
            api_key: Key for this call instead of the client's.
            timeout: Deadline in seconds instead of the client's; None means none.
            request_id: Id to give the request (`x-request-id`).

        Returns:
            One embedding per input, in input order.
        """
        answer = await self.embed_call(
            request,
            metadata=metadata,
            metadata_json=metadata_json,
            api_key=api_key,
            timeout=timeout,
            request_id=request_id,
        )
        return answer.response

    async def embed_call(
        self,
        request: route_service_pb2.EmbedRequest,
        *,
        metadata: Mapping[str, str] | None = None,
        metadata_json: bytes | None = None,
        api_key: str | None = None,
        timeout: _Timeout = USE_CLIENT_DEFAULT,  # noqa: ASYNC109
        request_id: str | None = None,
        api: str | None = None,
    ) -> EmbedResult:
        """Computes embeddings, with what the gateway says about the call (as `embed`).

        Returns:
            The embeddings, the request id, and the gateway's `x-tfy-*` headers.
        """
        if metadata:
            merged = route_service_pb2.EmbedRequest()
            merged.CopyFrom(request)
            merged.metadata.update(metadata)
            request = merged
        call = self._route_stub().Embed(
            request,
            metadata=self._call_metadata(api_key, request_id, metadata_json, api),
            timeout=self._deadline(timeout),
        )
        with _translate_errors():
            response = await call
            initial = await call.initial_metadata()
        return EmbedResult(
            response=response,
            request_id=_lookup(REQUEST_ID_KEY, initial),
            headers=response_headers(initial),
        )

    @property
    def keys(self) -> KeysClient:
        """The admin calls of `KeyService`: create, list, revoke and rotate API keys."""
        from ._keys import KeysClient  # _keys builds on this module

        return KeysClient(self)

    @property
    def metrics(self) -> MetricsClient:
        """Usage, cost and latency (`MetricsService`): `query`."""
        from ._metrics import MetricsClient  # _metrics builds on this module

        return MetricsClient(self)

    @property
    def logs(self) -> LogsClient:
        """Request logs (`LogService`): `list`, `get`, and `log` a call made elsewhere."""
        from ._logs import LogsClient  # _logs builds on this module

        return LogsClient(self)

    @property
    def responses(self) -> ResponsesClient:
        """Stored Responses API responses (`ResponseService`): `store`, `get`, `delete`."""
        from ._responses import ResponsesClient  # _responses builds on this module

        return ResponsesClient(self)

    def _route_stub(self) -> route_service_pb2_grpc.RouteServiceAsyncStub:
        if self._stub is None:
            raise RuntimeError("GatewayClient is not open: use `async with GatewayClient(...)`")
        return self._stub

    def _call_metadata(
        self,
        api_key: str | None,
        request_id: str | None,
        metadata_json: bytes | None = None,
        api: str | None = None,
    ) -> tuple[tuple[str, str | bytes], ...]:
        key = api_key if api_key is not None else self._api_key
        items: list[tuple[str, str | bytes]] = []
        # gRPC refuses header values outside printable ASCII with an opaque error of its own.
        if key:
            if not _header_safe(key):
                raise AuthenticationError(
                    "The API key has characters a header cannot carry.",
                    reason="invalid_api_key",
                )
            items.append(("authorization", f"Bearer {key}"))
        if request_id:
            if not _header_safe(request_id):
                raise InvalidRequestError(
                    "The request id has characters a header cannot carry.", param="request_id"
                )
            items.append((REQUEST_ID_KEY, request_id))
        if metadata_json:
            # Binary call metadata carries any bytes; core parses and checks them.
            items.append((METADATA_JSON_KEY, metadata_json))
        if api:
            items.append((API_KEY, api))
        return tuple(items)

    def _deadline(self, timeout: _Timeout) -> float | None:
        return self._timeout if timeout is USE_CLIENT_DEFAULT else timeout

    def _call_options(
        self, api_key: str | None, timeout: _Timeout, request_id: str | None
    ) -> dict[str, Any]:
        """The `metadata` and `timeout` keyword arguments of one stub call."""
        return {
            "metadata": self._call_metadata(api_key, request_id),
            "timeout": self._deadline(timeout),
        }

    def _open_channel(self) -> grpc.aio.Channel:
        if self._channel is None:
            raise RuntimeError("GatewayClient is not open: use `async with GatewayClient(...)`")
        return self._channel


def _header_safe(value: str) -> bool:
    return value.isascii() and value.isprintable()


def _lookup(key: str, *sources: grpc.aio.Metadata) -> str:
    for source in sources:
        value = source.get(key) if source is not None else None
        if value is not None:
            return value.decode() if isinstance(value, bytes) else value
    return ""
