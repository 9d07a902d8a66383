"""The key before the body: a request whose key core refuses gets that 401, never a 400.

The facade reads and checks a request's body, query and headers before it calls core, and
core checks the key; so a caller with an unknown, revoked or expired key and a broken body
used to learn about the body. Now, when the facade refuses a request itself (400, 413), it
first asks core whether the key is good, with the cheapest call that authenticates
(`ListModels`), and answers core's 401 if not. Only refusals pay for the check: a request the
facade passes on is authenticated by the call it makes anyway.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError

from codec import CodecError
from facade.errors import FacadeError, error_response, gateway_error_headers
from facade.inputs import bearer_token
from facade.state import client_of
from gateway_client import AuthenticationError, GatewayError

__all__ = ["install_key_first"]

Handler = Callable[[Request, Any], Response | Awaitable[Response]]

KEY_CHECK_TIMEOUT_SECONDS = 5.0
"""How long a refusal waits for core's word on the key; past it, the refusal itself stands."""


def install_key_first(app: FastAPI) -> None:
    """Puts the key check before `app`'s answers to requests the facade refuses itself.

    Call it after the error handlers are installed (`facade.errors.install_error_handlers`).
    """
    for kind in (FacadeError, CodecError, RequestValidationError):
        app.add_exception_handler(kind, _key_first(app.exception_handlers[kind]))


def _key_first(answer: Handler) -> Handler:
    async def handler(request: Request, exc: Exception) -> Response:
        if not (isinstance(exc, FacadeError) and exc.status == 401):  # else: the key it is
            refused = await key_refusal(request)
            if refused is not None:
                return refused
        answered = answer(request, exc)
        return await answered if inspect.isawaitable(answered) else answered

    return handler


async def key_refusal(request: Request) -> Response | None:
    """The 401 for the request's key, or None when core accepts it (or cannot say)."""
    try:
        api_key = bearer_token(request.headers.get("authorization"))
    except FacadeError as missing:
        return error_response(missing.status, missing.message, code=missing.code)
    try:
        await client_of(request).list_models(api_key=api_key, timeout=KEY_CHECK_TIMEOUT_SECONDS)
    except AuthenticationError as refused:
        return error_response(
            refused.http_status,
            refused.message,
            code=refused.reason,
            headers=gateway_error_headers(refused),
        )
    except GatewayError:
        return None  # core is unreachable or busy: the request's own error is still true
    return None
