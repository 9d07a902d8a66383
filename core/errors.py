"""The gateway's errors, and the one table from each to a gRPC status, reason and HTTP status.

    GatewayError
    ├── InvalidRequest            INVALID_ARGUMENT   400  invalid_request
    │   └── InvalidMetadata       INVALID_ARGUMENT   400  invalid_metadata    X-TFY-METADATA
    ├── Unauthenticated           UNAUTHENTICATED    401  invalid_api_key
    ├── PermissionDenied          PERMISSION_DENIED  403  permission_denied
    │   └── ModelNotAllowed       PERMISSION_DENIED  403  model_not_allowed
    ├── ModelNotFound             NOT_FOUND          404  model_not_found
    ├── KeyNotFound               NOT_FOUND          404  key_not_found
    ├── LogNotFound               NOT_FOUND          404  log_not_found
    ├── PayloadTooLarge           INVALID_ARGUMENT   413  payload_too_large
    ├── RateLimited               RESOURCE_EXHAUSTED 429  rate_limited
    │   └── BudgetExceeded        RESOURCE_EXHAUSTED 429  budget_exceeded
    ├── NoTargetAvailable         UNAVAILABLE        503  no_target_available all cooling down
    ├── LimitsUnavailable         UNAVAILABLE        503  limits_unavailable  counter store down
    ├── UpstreamRejected          (by status)        4xx  upstream_rejected   provider said 4xx
    ├── UpstreamFailed            UNAVAILABLE        502  upstream_error      5xx or no connection
    ├── UpstreamTimeout           DEADLINE_EXCEEDED  504  upstream_timeout
    ├── UpstreamStreamCut         UNAVAILABLE        502  upstream_stream_cut stream cut mid-answer
    ├── NotImplementedYet         UNIMPLEMENTED      501  not_implemented
    └── InternalError             INTERNAL           500  internal

The `reason` travels in `google.rpc.ErrorInfo` with the HTTP status in its metadata, so the
facade and the typed client never need a second table to pick the HTTP status. `details`
travel there too: the rule that decided (`rule_id`, `config_type`), `retry_after_seconds`, and
keys named like HTTP headers (`x-ratelimit-*`), which the facade answers as headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import grpc

from codec.redaction import redact_secrets

ERROR_DOMAIN = "llm-gateway"


class GatewayError(Exception):
    """Base of every error core reports to a caller."""

    grpc_code: ClassVar[grpc.StatusCode] = grpc.StatusCode.INTERNAL
    http_status: ClassVar[int] = 500
    reason: ClassVar[str] = "internal"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        details: Mapping[str, str] | None = None,
    ) -> None:
        # Messages and params quote caller input: a key pasted into the wrong place must not
        # come back (nor reach the log), whichever error carries it.
        message = redact_secrets(message)
        super().__init__(message)
        self.message = message
        self.param = None if param is None else redact_secrets(param)
        self.details: Mapping[str, str] = details or {}

    def status_code(self) -> grpc.StatusCode:
        return self.grpc_code

    def http_code(self) -> int:
        return self.http_status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidRequest(GatewayError):
    """The request is malformed or has a value of the wrong type."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 400
    reason = "invalid_request"


class InvalidMetadata(InvalidRequest):
    """`X-TFY-METADATA` is not a JSON object of short strings."""

    reason = "invalid_metadata"


class Unauthenticated(GatewayError):
    """The API key is missing, unknown, expired or revoked."""

    grpc_code = grpc.StatusCode.UNAUTHENTICATED
    http_status = 401
    reason = "invalid_api_key"


class PermissionDenied(GatewayError):
    """The key is valid but may not do this."""

    grpc_code = grpc.StatusCode.PERMISSION_DENIED
    http_status = 403
    reason = "permission_denied"


class ModelNotAllowed(PermissionDenied):
    """The key's model allow-list does not admit the requested model."""

    reason = "model_not_allowed"


class ModelNotFound(GatewayError):
    """No configured provider account serves the requested model."""

    grpc_code = grpc.StatusCode.NOT_FOUND
    http_status = 404
    reason = "model_not_found"


class LogNotFound(GatewayError):
    """No request-log record with this id is visible to the caller."""

    grpc_code = grpc.StatusCode.NOT_FOUND
    http_status = 404
    reason = "log_not_found"


class KeyNotFound(GatewayError):
    """No API key has the given id."""

    grpc_code = grpc.StatusCode.NOT_FOUND
    http_status = 404
    reason = "key_not_found"


class ResponseNotFound(GatewayError):
    """No stored response with this id belongs to the caller."""

    grpc_code = grpc.StatusCode.NOT_FOUND
    http_status = 404
    reason = "response_not_found"


class ResponseExists(GatewayError):
    """A stored response already has this id."""

    grpc_code = grpc.StatusCode.ALREADY_EXISTS
    http_status = 409
    reason = "response_exists"


class PayloadTooLarge(GatewayError):
    """The request body is over the configured limit."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 413
    reason = "payload_too_large"


class RateLimited(GatewayError):
    """A rate-limit rule blocks the request."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    http_status = 429
    reason = "rate_limited"


class BudgetExceeded(RateLimited):
    """A budget rule's money for the period is spent."""

    reason = "budget_exceeded"


class LimitsUnavailable(GatewayError):
    """The store keeping rate-limit and budget counters cannot be reached (fails closed)."""

    grpc_code = grpc.StatusCode.UNAVAILABLE
    http_status = 503
    reason = "limits_unavailable"


class NoTargetAvailable(GatewayError):
    """Every target a load-balancing rule could use is cooling down after failures."""

    grpc_code = grpc.StatusCode.UNAVAILABLE
    http_status = 503
    reason = "no_target_available"


# Upstream 4xx statuses keep their meaning for gRPC callers too.
_UPSTREAM_4XX_TO_GRPC = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ABORTED,
    413: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
}


class UpstreamRejected(GatewayError):
    """The provider answered 4xx; its status and message pass through."""

    reason = "upstream_rejected"

    def __init__(
        self,
        message: str,
        *,
        upstream_status: int,
        param: str | None = None,
        details: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, param=param, details=details)
        self.upstream_status = upstream_status

    def status_code(self) -> grpc.StatusCode:
        return _UPSTREAM_4XX_TO_GRPC.get(self.upstream_status, grpc.StatusCode.FAILED_PRECONDITION)

    def http_code(self) -> int:
        return self.upstream_status


class UpstreamFailed(GatewayError):
    """The provider answered 5xx (`upstream_status`), or could not be reached (None)."""

    grpc_code = grpc.StatusCode.UNAVAILABLE
    http_status = 502
    reason = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        upstream_status: int | None = None,
        param: str | None = None,
        details: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, param=param, details=details)
        self.upstream_status = upstream_status


class UpstreamTimeout(GatewayError):
    """The provider did not answer within the configured timeout."""

    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED
    http_status = 504
    reason = "upstream_timeout"


class UpstreamStreamCut(GatewayError):
    """The provider's stream ended before the answer was complete."""

    grpc_code = grpc.StatusCode.UNAVAILABLE
    http_status = 502
    reason = "upstream_stream_cut"


class NotImplementedYet(GatewayError):
    """A declared RPC that a later version will serve."""

    grpc_code = grpc.StatusCode.UNIMPLEMENTED
    http_status = 501
    reason = "not_implemented"


class InternalError(GatewayError):
    """A bug in the gateway; the message never carries internals."""
