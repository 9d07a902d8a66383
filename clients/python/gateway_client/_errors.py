"""Errors a gateway call can raise, chosen by one table keyed by gRPC status code.

    GatewayError                     (any other code)    500
    ├── InvalidRequestError          INVALID_ARGUMENT    400
    ├── FailedPreconditionError      FAILED_PRECONDITION 400
    ├── AuthenticationError          UNAUTHENTICATED     401
    ├── PermissionDeniedError        PERMISSION_DENIED   403
    ├── NotFoundError                NOT_FOUND           404
    ├── AbortedError                 ABORTED             409
    ├── RateLimitError               RESOURCE_EXHAUSTED  429  (always with the gateway's ErrorInfo)
    ├── MessageTooLargeError         RESOURCE_EXHAUSTED       (grpc's own message size limit)
    │   ├── RequestTooLargeError                         413
    │   └── ResponseTooLargeError                        502
    ├── CallCancelledError           CANCELLED           499
    ├── InternalError                INTERNAL, UNKNOWN   500
    ├── UnimplementedError           UNIMPLEMENTED       501
    ├── UpstreamUnavailableError     UNAVAILABLE         503
    └── DeadlineExceededError        DEADLINE_EXCEEDED   504

The HTTP status on the right is only the fallback: core puts the real one (e.g. 502 for an
upstream failure, 413 for a body over the limit) in the `http_status` metadata of the
`google.rpc.ErrorInfo` it attaches to every error, together with the `reason`.

RESOURCE_EXHAUSTED needs that distinction most: core's rate limits and budgets always carry
ErrorInfo, while grpc reports a message over `grpc.max_*_message_length` with the same code and
none. Such a size failure is never a 429 (OpenAI SDKs retry those, and each retry is billed
upstream): grpc's text says which side refused which message, so it becomes a 413 (the request)
or a 502 (the answer); any other bare RESOURCE_EXHAUSTED is grpc running short of something, 503.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

__all__ = [
    "AbortedError",
    "AuthenticationError",
    "CallCancelledError",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "GatewayError",
    "InternalError",
    "InvalidRequestError",
    "MessageTooLargeError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "ResponseTooLargeError",
    "UnimplementedError",
    "UpstreamUnavailableError",
    "from_rpc_error",
]

_STATUS_DETAILS_KEY = "grpc-status-details-bin"


class GatewayError(Exception):
    """Base of every error the client raises.

    Attributes:
        message: Human-readable description, safe to show to the caller.
        reason: Machine-readable cause from `ErrorInfo.reason`, e.g. `model_not_found`.
        grpc_code: The gRPC status code the call ended with.
        http_status: The HTTP status the gateway would answer over HTTP.
        param: The request field at fault, when the gateway named one.
        metadata: The `ErrorInfo` metadata, e.g. `retry_after_seconds`.
        request_id: The gateway's id of the failed request (`x-request-id`), when it sent one:
            the id of the call's log record, or the caller's own id echoed.
    """

    grpc_code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    http_status: int = 500

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        grpc_code: grpc.StatusCode | None = None,
        http_status: int | None = None,
        param: str | None = None,
        metadata: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        if grpc_code is not None:
            self.grpc_code = grpc_code
        if http_status is not None:
            self.http_status = http_status
        self.reason = reason if reason is not None else self.grpc_code.name.lower()
        self.param = param
        self.metadata: dict[str, str] = dict(metadata or {})

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, reason={self.reason!r}, "
            f"http_status={self.http_status})"
        )


class InvalidRequestError(GatewayError):
    """The request is malformed or has a value of the wrong type."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 400


class FailedPreconditionError(GatewayError):
    """The request cannot run in the current state (e.g. an upstream 4xx with no gRPC twin)."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    http_status = 400


class AuthenticationError(GatewayError):
    """The API key is missing, unknown, expired or revoked."""

    grpc_code = grpc.StatusCode.UNAUTHENTICATED
    http_status = 401


class PermissionDeniedError(GatewayError):
    """The API key is valid but may not do this."""

    grpc_code = grpc.StatusCode.PERMISSION_DENIED
    http_status = 403


class NotFoundError(GatewayError):
    """The model (or other resource) does not exist."""

    grpc_code = grpc.StatusCode.NOT_FOUND
    http_status = 404


class AbortedError(GatewayError):
    """The call was aborted, e.g. by a conflict upstream."""

    grpc_code = grpc.StatusCode.ABORTED
    http_status = 409


class RateLimitError(GatewayError):
    """A rate limit blocks the call; see `metadata["retry_after_seconds"]`."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    http_status = 429


class MessageTooLargeError(GatewayError):
    """A message of the call is over a gRPC message size limit (never a rate limit).

    Attributes:
        message_bytes: Size of the refused message, as grpc reported it.
        limit_bytes: The limit it is over.
    """

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    http_status = 502
    message_bytes: int | None = None
    limit_bytes: int | None = None


class RequestTooLargeError(MessageTooLargeError):
    """The request is larger than the client or the gateway accepts as one gRPC message."""

    http_status = 413


class ResponseTooLargeError(MessageTooLargeError):
    """The answer is larger than one gRPC message may be; the same call fails the same way."""

    http_status = 502


class CallCancelledError(GatewayError):
    """The call was cancelled before it finished."""

    grpc_code = grpc.StatusCode.CANCELLED
    http_status = 499


class InternalError(GatewayError):
    """The gateway failed in a way it does not describe further."""

    grpc_code = grpc.StatusCode.INTERNAL
    http_status = 500


class UnimplementedError(GatewayError):
    """The gateway does not implement this call."""

    grpc_code = grpc.StatusCode.UNIMPLEMENTED
    http_status = 501


class UpstreamUnavailableError(GatewayError):
    """The gateway or the provider behind it could not be reached or failed."""

    grpc_code = grpc.StatusCode.UNAVAILABLE
    http_status = 503


class DeadlineExceededError(GatewayError):
    """The call did not finish before its deadline."""

    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED
    http_status = 504


# The one table: gRPC status code -> error class (which carries the fallback HTTP status).
_ERROR_BY_CODE: dict[grpc.StatusCode, type[GatewayError]] = {
    cls.grpc_code: cls
    for cls in (
        InvalidRequestError,
        FailedPreconditionError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        AbortedError,
        RateLimitError,
        CallCancelledError,
        InternalError,
        UnimplementedError,
        UpstreamUnavailableError,
        DeadlineExceededError,
    )
}


def from_rpc_error(err: grpc.aio.AioRpcError) -> GatewayError:
    """Turns a failed gRPC call into the matching `GatewayError` subclass.

    Reads `google.rpc.ErrorInfo` from the `grpc-status-details-bin` trailer for the reason,
    the HTTP status and the param; without it, the HTTP status comes from the code's class.

    Args:
        err: The error grpc.aio raised.

    Returns:
        The typed error; raise it `from err`.
    """
    code = err.code()
    cls = _ERROR_BY_CODE.get(code, InternalError)
    message = err.details() or code.name
    trailing = err.trailing_metadata()
    info = _error_info(trailing)
    if info is None:
        error = (
            _grpc_resource_error(message)
            if code == grpc.StatusCode.RESOURCE_EXHAUSTED
            else cls(message, grpc_code=code)
        )
    else:
        metadata = dict(info.metadata)
        error = cls(
            message,
            reason=info.reason or None,
            grpc_code=code,
            http_status=_int_or_none(metadata.get("http_status")),
            param=metadata.get("param") or None,
            metadata=metadata,
        )
    error.request_id = _request_id(trailing)
    return error


# grpc's own words, e.g. "Stream removed (CLIENT: Received message larger than max (5 vs. 4))".
_SIZE_DETAIL = re.compile(
    r"(?:(CLIENT|SERVER): )?(Sent|Received) message larger than max \((\d+) vs\. (\d+)\)"
)
# Which message a side refused: the client sends and the server receives the request.
_REQUEST_SIDES = {("CLIENT", "Sent"), ("SERVER", "Received"), ("", "Sent")}


def _grpc_resource_error(details: str) -> GatewayError:
    """A RESOURCE_EXHAUSTED grpc raised itself (core's carry ErrorInfo): never a rate limit."""
    found = _SIZE_DETAIL.search(details)
    if found is None:
        return UpstreamUnavailableError(
            f"The gateway's internal call ran out of a resource: {details}",
            reason="resource_exhausted",
            grpc_code=grpc.StatusCode.RESOURCE_EXHAUSTED,
        )
    side, verb, size, limit = found.groups()
    error: MessageTooLargeError
    if (side or "", verb) in _REQUEST_SIDES:
        error = RequestTooLargeError(
            f"The request is too large for the gateway: {size} bytes as a gRPC message, "
            f"over the limit of {limit} bytes.",
            reason="payload_too_large",
        )
    else:
        error = ResponseTooLargeError(
            f"The answer is too large to pass through the gateway: {size} bytes as a gRPC "
            f"message, over the limit of {limit} bytes. Retrying will not help; ask for less "
            "(fewer inputs or dimensions, a shorter answer, a smaller page), or ask the "
            "gateway's operator to raise its message limit.",
            reason="response_too_large",
        )
    error.message_bytes, error.limit_bytes = int(size), int(limit)
    return error


_REQUEST_ID_KEY = "x-request-id"


def _error_info(trailing: grpc.aio.Metadata | None) -> error_details_pb2.ErrorInfo | None:
    if not trailing:
        return None
    raw = trailing.get(_STATUS_DETAILS_KEY)
    if not isinstance(raw, bytes):
        return None
    status = status_pb2.Status()
    try:
        status.ParseFromString(raw)
    except DecodeError:  # a garbled trailer must not hide the status code itself
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None


def _request_id(trailing: grpc.aio.Metadata | None) -> str | None:
    value = trailing.get(_REQUEST_ID_KEY) if trailing else None
    return value if isinstance(value, str) and value else None


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        status = int(value)
    except ValueError:
        return None
    return status if 100 <= status <= 599 else None
