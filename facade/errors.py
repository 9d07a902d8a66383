"""The one place errors become OpenAI's envelope `{"error": {message, type, param, code}}`.

Gateway errors (from core, via `gateway_client`) carry their HTTP status and reason;
facade-level errors (bad JSON, body too large, no key, bad metadata) are `FacadeError`;
codec errors are 400s naming the field; FastAPI's own errors (unknown route, wrong method,
validation) and anything unexpected use the same envelope. A message over the gRPC size limit
between facade and core arrives as `RequestTooLargeError` (413) or `ResponseTooLargeError`
(502, not to be retried), never as a 429: the client tells it from core's rate limits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from codec import CodecError
from codec.redaction import redact_secrets
from gateway_client import GatewayError, ResponseTooLargeError

__all__ = [
    "ErrorResponse",
    "FacadeError",
    "error_body",
    "error_response",
    "error_type",
    "gateway_error_body",
    "gateway_error_headers",
    "install_error_handlers",
]

_TYPE_BY_STATUS = {
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
    504: "timeout_error",
}
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}
_HEADER_PREFIXES = ("x-ratelimit-", "x-tfy-")
_LOCATIONS = ("body", "query", "path", "header", "cookie")


class FacadeError(Exception):
    """An error the facade answers itself, before or without calling core."""

    def __init__(self, status: int, message: str, *, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param

    def __repr__(self) -> str:
        return f"FacadeError({self.status}, {self.message!r}, code={self.code!r})"


class ErrorDetail(BaseModel):
    """OpenAI's error object (for the OpenAPI schema only; never built per request)."""

    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    """OpenAI's error envelope (for the OpenAPI schema only)."""

    error: ErrorDetail


def error_type(status: int) -> str:
    """OpenAI's error `type` for an HTTP status."""
    if status in _TYPE_BY_STATUS:
        return _TYPE_BY_STATUS[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_body(
    status: int, message: str, *, code: str | None, param: str | None = None
) -> dict[str, Any]:
    """The envelope, as a dict; nothing in it echoes a secret-shaped value the caller sent."""
    return {
        "error": {
            "message": redact_secrets(message),
            "type": error_type(status),
            "param": None if param is None else redact_secrets(param),
            "code": code,
        }
    }


def gateway_error_body(err: GatewayError) -> dict[str, Any]:
    """The envelope of an error core (or the gRPC channel) reported."""
    return error_body(err.http_status, err.message, code=err.reason, param=err.param)


def error_response(
    status: int,
    message: str,
    *,
    code: str | None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The envelope as a JSON response with `status`."""
    body = orjson.dumps(error_body(status, message, code=code, param=param))
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def gateway_error_headers(err: GatewayError) -> dict[str, str]:
    """HTTP headers of an error core reported: its `x-request-id`; `Retry-After`, and every
    detail named like a header (`x-ratelimit-*`), so limits read the same as OpenAI's;
    `x-should-retry: false` (OpenAI's own header) when the same call is bound to fail the same
    way."""
    headers = {k: v for k, v in err.metadata.items() if k.startswith(_HEADER_PREFIXES)}
    if err.request_id:  # the failed call's log record (facade/request_ids.py stamps the rest)
        headers["x-request-id"] = err.request_id
    if isinstance(err, ResponseTooLargeError):
        # OpenAI SDKs retry every 5xx unless told not to, and each retry is billed upstream
        # for an answer that will be just as large again.
        headers["x-should-retry"] = "false"
    try:
        retry_after = float(err.metadata.get("retry_after_seconds", ""))
    except ValueError:
        return headers
    # Retry-After is whole seconds (RFC 9110); round a fractional wait up, never down.
    headers["retry-after"] = str(max(math.ceil(retry_after), 0))
    return headers


async def _on_gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    headers = gateway_error_headers(exc) or None
    return error_response(
        exc.http_status, exc.message, code=exc.reason, param=exc.param, headers=headers
    )


async def _on_facade_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FacadeError)
    return error_response(exc.status, exc.message, code=exc.code, param=exc.param)


async def _on_codec_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CodecError)
    return error_response(400, exc.message, code="invalid_request", param=exc.param)


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status == 404:
        message = f"Unknown request URL: {request.method} {request.url.path}."
    elif status == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
    else:
        message = str(exc.detail)
    code = _HTTP_CODES.get(status, "invalid_request" if status < 500 else "internal")
    return error_response(status, message, code=code, headers=exc.headers)


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(part) for part in first.get("loc", ())]
    if loc and loc[0] in _LOCATIONS:  # "query.n" -> "n", as OpenAI names params
        loc = loc[1:]
    message = str(first.get("msg", "Invalid request."))
    param = ".".join(loc) or None
    return error_response(400, message, code="invalid_request", param=param)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    # Starlette re-raises the exception after this answer, so the server logs the traceback;
    # the answer itself never carries internals.
    return error_response(500, "The gateway failed to handle the request.", code="internal")


def install_error_handlers(app: FastAPI) -> None:
    """Registers every error handler of the facade on `app`."""
    app.add_exception_handler(GatewayError, _on_gateway_error)
    app.add_exception_handler(FacadeError, _on_facade_error)
    app.add_exception_handler(CodecError, _on_codec_error)
    app.add_exception_handler(HTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)
