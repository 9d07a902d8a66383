"""`GET /models` and `GET /models/{id}`: the models the caller can use, in OpenAI's shapes."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request, Response

from facade.errors import FacadeError
from facade.inputs import caller_context
from facade.state import client_of, settings_of
from gateway.v1.route_service_pb2 import Model

__all__ = ["list_models", "retrieve_model"]


async def list_models(request: Request) -> Response:
    """Lists models through core."""
    data = [_model_json(model) for model in await _models(request)]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")


async def retrieve_model(request: Request) -> Response:
    """One model by id; ids hold a `/` (`<provider account>/<model>`), so the route's
    parameter is a path.

    Answers from the same list core gives `GET /models`, so a key sees exactly the models it
    may call, and a model it may not is as unknown as one that does not exist.
    """
    model_id = request.path_params["model_id"]
    for model in await _models(request):
        if model.id == model_id:
            return Response(orjson.dumps(_model_json(model)), media_type="application/json")
    raise FacadeError(
        404, f"The model `{model_id}` does not exist.", code="model_not_found", param="model"
    )


async def _models(request: Request) -> list[Model]:
    caller = caller_context(request)
    return await client_of(request).list_models(
        api_key=caller.api_key,
        request_id=caller.request_id,
        timeout=settings_of(request).request_timeout_seconds,
    )


def _model_json(model: Model) -> dict[str, Any]:
    return {"id": model.id, "object": "model", "created": 0, "owned_by": model.provider_account}
