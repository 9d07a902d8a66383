"""`GET /models`: the models the caller can use, in OpenAI's list shape."""

from __future__ import annotations

import orjson
from fastapi import Request, Response

from facade.inputs import caller_context
from facade.state import client_of, settings_of

__all__ = ["list_models"]


async def list_models(request: Request) -> Response:
    """Lists models through core."""
    caller = caller_context(request)
    models = await client_of(request).list_models(
        api_key=caller.api_key,
        request_id=caller.request_id,
        timeout=settings_of(request).request_timeout_seconds,
    )
    data = [
        {"id": m.id, "object": "model", "created": 0, "owned_by": m.provider_account}
        for m in models
    ]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")
