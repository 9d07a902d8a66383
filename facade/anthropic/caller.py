"""Who calls the Messages API: the Anthropic SDK sends its key as `x-api-key`; a Bearer key
works as well. `anthropic-version` and `anthropic-beta` are accepted and ignored: the
gateway answers one version of the API and no beta features."""

from __future__ import annotations

from fastapi import Request

from facade.errors import FacadeError
from facade.inputs import METADATA_HEADER, CallerContext, bearer_token, usable_request_id

__all__ = ["anthropic_api_key", "anthropic_caller"]


def anthropic_api_key(request: Request) -> str:
    """The key in `x-api-key`, else in `Authorization: Bearer`; 401 when neither is sent."""
    key = request.headers.get("x-api-key", "").strip()
    if key:
        return key
    if request.headers.get("authorization"):
        return bearer_token(request.headers["authorization"])
    raise FacadeError(
        401,
        "Missing API key: send it as 'x-api-key: <key>' or 'Authorization: Bearer <key>'.",
        code="invalid_api_key",
    )


def anthropic_caller(request: Request) -> CallerContext:
    """The caller's key, `x-request-id` and `X-TFY-METADATA`, as on the OpenAI routes."""
    headers = request.headers
    metadata = headers.get(METADATA_HEADER)
    return CallerContext(
        api_key=anthropic_api_key(request),
        request_id=usable_request_id(headers.get("x-request-id")),
        # Starlette decodes header bytes as latin-1: encoding them back gives them unchanged.
        metadata_json=metadata.encode("latin-1") if metadata else None,
        api="messages",
    )
