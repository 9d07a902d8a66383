"""`POST /embeddings`: float or base64 vectors, as the caller asks."""

from __future__ import annotations

import orjson
from fastapi import Request, Response

from codec import embed_request_from_json, embed_response_to_json
from facade.disconnect import CLIENT_CLOSED, until_disconnected
from facade.errors import FacadeError
from facade.inputs import caller_context, read_json_object
from facade.state import client_of, settings_of

__all__ = ["create_embeddings"]

_ENCODINGS = ("float", "base64")


async def create_embeddings(request: Request) -> Response:
    """Computes embeddings through core."""
    settings = settings_of(request)
    caller = caller_context(request, "embeddings")
    body = await read_json_object(request, settings.max_body_bytes)
    encoding_format = body.get("encoding_format")
    if encoding_format is None:
        encoding_format = "float"
    if encoding_format not in _ENCODINGS:
        raise FacadeError(
            400,
            "'encoding_format' must be 'float' or 'base64'.",
            code="invalid_request",
            param="encoding_format",
        )
    # Kept in the request's extras too; core always asks the provider for floats.
    embed_request = embed_request_from_json(body)
    answer = await until_disconnected(
        request,
        client_of(request).embed_call(
            embed_request,
            metadata_json=caller.metadata_json,
            api=caller.api,
            api_key=caller.api_key,
            request_id=caller.request_id,
            timeout=settings.request_timeout_seconds,
        ),
    )
    if answer is None:
        return Response(status_code=CLIENT_CLOSED)
    return Response(
        orjson.dumps(embed_response_to_json(answer.response, encoding_format=encoding_format)),
        media_type="application/json",
        headers={**answer.headers, "x-request-id": answer.request_id},
    )
