"""The Messages API routes, under both base URLs the Anthropic SDK may be given
(`ANTHROPIC_BASE_URL=http://host` or `http://host/api/inference/anthropic`: it appends
`/v1/messages`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from facade.anthropic.messages import count_tokens, create_message
from facade.anthropic.schemas import AnthropicErrorResponse, CountTokensRequest, MessagesRequest
from facade.errors import ErrorResponse
from facade.openapi import METADATA_HEADER, json_body
from facade.plain_routes import serve_plain

__all__ = ["PREFIXES", "attach_anthropic"]

PREFIXES = ("/api/inference/anthropic/v1", "/v1")

_WHEN = {
    400: "`invalid_request_error`: not JSON, a field of the wrong type or value (the message "
    "names it), a missing `max_tokens`, or an unsupported feature.",
    401: "`authentication_error`: missing, unknown, expired or revoked key.",
    403: "`permission_error`: a model outside the key's grant.",
    404: "`not_found_error`: no such model.",
    413: "`request_too_large`: the body is larger than the gateway's limit.",
    429: "`rate_limit_error`: a rate-limit or budget rule blocks the call (`Retry-After`).",
    431: "The request headers total more than 64 KiB (in OpenAI's envelope).",
    500: "`api_error`: a bug in the gateway; the message carries no internals.",
    502: "`api_error`: the provider failed, or its answer was too large to pass on.",
    503: "`overloaded_error`: no target can serve the call now.",
    504: "`timeout_error`: the provider did not answer in time.",
}
_API_KEY_HEADER: dict[str, Any] = {
    "name": "x-api-key",
    "in": "header",
    "required": False,
    "description": "The gateway key, as the Anthropic SDK sends it; `Authorization: Bearer` "
    "works as well. `anthropic-version` and `anthropic-beta` are accepted and ignored.",
    "schema": {"type": "string"},
}
_MESSAGES = {
    **json_body(MessagesRequest, description="Anthropic's Messages API request."),
    "parameters": [_API_KEY_HEADER, METADATA_HEADER],
    "responses": {
        "200": {
            "description": "The message; with `stream: true`, Anthropic's server-sent events "
            "(`message_start` ... `message_stop`; a failure after the start is an `error` "
            "event).",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
}
_COUNT = {
    **json_body(CountTokensRequest, description="A Messages API request, without max_tokens."),
    "parameters": [_API_KEY_HEADER],
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    answers: dict[int | str, dict[str, Any]] = {
        status: {"model": AnthropicErrorResponse, "description": _WHEN[status]}
        for status in sorted({*statuses, 401, 500})
    }
    # Answered before any route runs (facade/header_limits.py), so in OpenAI's envelope.
    answers[431] = {"model": ErrorResponse, "description": _WHEN[431]}
    return answers


def build_router() -> APIRouter:
    """A fresh router with the Messages API routes."""
    router = APIRouter(tags=["anthropic"])
    router.add_api_route(
        "/messages",
        create_message,
        methods=["POST"],
        responses=_errors(400, 403, 404, 413, 429, 502, 503, 504),
        openapi_extra=_MESSAGES,
        summary="Create a message (Anthropic Messages API)",
    )
    router.add_api_route(
        "/messages/count_tokens",
        count_tokens,
        methods=["POST"],
        responses=_errors(400, 403, 404, 413),
        openapi_extra=_COUNT,
        summary="Estimate a message's input tokens",
        description="An estimate (about four characters a token, plus 1,600 an image), not "
        'the provider\'s count: `{"input_tokens": N}`.',
    )
    return router


def attach_anthropic(app: FastAPI) -> None:
    """Mounts the Messages API on `app` under every prefix in `PREFIXES`, served plain
    (facade/plain_routes.py), as the OpenAI routes are."""
    router = build_router()
    for prefix in PREFIXES:
        app.include_router(router, prefix=prefix)  # for the OpenAPI document
    serve_plain(app, router, PREFIXES)
