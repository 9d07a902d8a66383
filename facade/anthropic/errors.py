"""Errors of the Messages API routes in Anthropic's shape, not OpenAI's.

`{"type": "error", "error": {"type": "<kind>", "message": "..."}}`, the HTTP status kept, the
kind chosen by status as Anthropic does, and the request id in both `request-id` (which the
Anthropic SDK reads into `exc.request_id`) and `x-request-id`. The app's exception handlers
(facade/errors.py) answer in OpenAI's shape for every route, so these routes catch their
errors themselves (`anthropic_errors`), before those handlers see them. As there, a request
the facade refuses itself is first checked for a good key (facade/key_first.py).
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import Request, Response

from codec import CodecError
from codec.redaction import redact_secrets
from facade.anthropic.caller import anthropic_api_key
from facade.errors import FacadeError, gateway_error_headers
from facade.inputs import usable_request_id
from facade.key_first import KEY_CHECK_TIMEOUT_SECONDS
from facade.state import client_of
from gateway_client import AuthenticationError, GatewayError

__all__ = ["anthropic_error_body", "anthropic_errors", "error_kind"]

_LOG = logging.getLogger(__name__)

_KIND_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}

Handler = Callable[[Request], Awaitable[Response]]


def error_kind(status: int) -> str:
    """Anthropic's error `type` for an HTTP status."""
    if status in _KIND_BY_STATUS:
        return _KIND_BY_STATUS[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def anthropic_error_body(status: int, message: str) -> dict[str, Any]:
    """The envelope; nothing in it echoes a secret-shaped value the caller sent."""
    return {
        "type": "error",
        "error": {"type": error_kind(status), "message": redact_secrets(message)},
    }


def anthropic_errors(handler: Handler) -> Handler:
    """Wraps a route handler so that every error it raises is answered in Anthropic's shape."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except GatewayError as err:
            return _response(request, err.http_status, err.message, gateway_error_headers(err))
        except (FacadeError, CodecError) as err:
            status = err.status if isinstance(err, FacadeError) else 400
            message = _with_param(err.message, err.param)
            if status != 401:
                refused = await _key_refusal(request)
                if refused is not None:
                    return refused
            return _response(request, status, message, {})
        except Exception:
            _LOG.exception("the Messages API failed to handle %s", request.url.path)
            return _response(request, 500, "The gateway failed to handle the request.", {})

    return wrapped


async def _key_refusal(request: Request) -> Response | None:
    """The 401 for the request's key, or None when core accepts it (or cannot say)."""
    try:
        api_key = anthropic_api_key(request)
    except FacadeError as missing:
        return _response(request, missing.status, missing.message, {})
    try:
        await client_of(request).list_models(api_key=api_key, timeout=KEY_CHECK_TIMEOUT_SECONDS)
    except AuthenticationError as refused:
        return _response(request, 401, refused.message, gateway_error_headers(refused))
    except GatewayError:
        return None  # core is unreachable or busy: the request's own error is still true
    return None


def _with_param(message: str, param: str | None) -> str:
    # Anthropic's envelope has no `param`: the field at fault goes into the message.
    if param and param not in message:
        return f"{param}: {message}"
    return message


def _response(request: Request, status: int, message: str, headers: dict[str, str]) -> Response:
    request_id = headers.get("x-request-id") or _request_id(request)
    headers = {**headers, "x-request-id": request_id, "request-id": request_id}
    body = orjson.dumps(anthropic_error_body(status, message))
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _request_id(request: Request) -> str:
    # As facade/request_ids.py stamps an answer core never saw.
    return usable_request_id(request.headers.get("x-request-id")) or uuid.uuid4().hex
