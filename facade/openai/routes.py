"""The OpenAI-compatible routes, mounted under every base URL the OpenAI SDK may be given."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from facade.openai.chat import create_chat_completion
from facade.openai.completions import create_completion
from facade.openai.embeddings import create_embeddings
from facade.openai.models import list_models, retrieve_model
from facade.openai.responses import create_response
from facade.openai.schemas import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    ResponseRequest,
)
from facade.openai.stored_responses import delete_response, retrieve_response
from facade.openapi import METADATA_HEADER, error_responses, json_body
from facade.plain_routes import serve_plain

__all__ = ["PREFIXES", "attach_router"]

# base_url=http://host/api/inference/openai, .../openai/v1 and http://host/v1 all work.
PREFIXES = ("/api/inference/openai", "/api/inference/openai/v1", "/v1")

_CALL_ERRORS: dict[int | str, dict[str, Any]] = {
    **error_responses(400, 403, 404, 413, 429, 502, 503, 504),
    "4XX": {"description": "Any other 4xx status is the provider's own, passed through."},
}
_CHAT = {
    **json_body(ChatCompletionRequest, description="OpenAI's chat completion request."),
    "parameters": [METADATA_HEADER],
    "responses": {
        "200": {
            "description": "The completion; with `stream: true`, server-sent chunks then "
            "`data: [DONE]` (an error after the first chunk arrives as an `error` event).",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
}
_COMPLETIONS = {
    **json_body(
        CompletionRequest,
        description="OpenAI's legacy completions request, served by the configured chat models.",
    ),
    "parameters": [METADATA_HEADER],
    "responses": {
        "200": {
            "description": "The `text_completion`; with `stream: true`, server-sent chunks then "
            "`data: [DONE]` (an error after the first chunk arrives as an `error` event).",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
}
_RESPONSES = {
    **json_body(
        ResponseRequest,
        description="OpenAI's Responses API request, served by the configured chat models.",
    ),
    "parameters": [METADATA_HEADER],
    "responses": {
        "200": {
            "description": "The `response`; with `stream: true`, the Responses API's server-sent "
            "events (`response.created` ... `response.completed`; a failure after the start is "
            "`response.failed` with its `error`).",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
}
_EMBEDDINGS = {
    **json_body(EmbeddingRequest, description="OpenAI's embeddings request."),
    "parameters": [METADATA_HEADER],
}


_MODEL = {
    "parameters": [
        {
            "name": "model_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": "A model id as `GET /models` lists it; it holds a `/`.",
        }
    ]
}


_STORED_RESPONSE = {
    "parameters": [
        {
            "name": "response_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": "A response id (`resp_...`) that this key's `POST /responses` "
            "returned and stored.",
        }
    ]
}


def build_router() -> APIRouter:
    """A fresh router with the OpenAI routes."""
    router = APIRouter(tags=["openai"], responses=error_responses(401, 500))
    router.add_api_route(
        "/chat/completions",
        create_chat_completion,
        methods=["POST"],
        responses=_CALL_ERRORS,
        openapi_extra=_CHAT,
    )
    router.add_api_route(
        "/completions",
        create_completion,
        methods=["POST"],
        responses=_CALL_ERRORS,
        openapi_extra=_COMPLETIONS,
    )
    router.add_api_route(
        "/responses",
        create_response,
        methods=["POST"],
        responses=_CALL_ERRORS,
        openapi_extra=_RESPONSES,
    )
    router.add_api_route(
        "/responses/{response_id}",
        retrieve_response,
        methods=["GET"],
        responses=error_responses(400, 404),
        openapi_extra=_STORED_RESPONSE,
    )
    router.add_api_route(
        "/responses/{response_id}",
        delete_response,
        methods=["DELETE"],
        responses=error_responses(400, 404),
        openapi_extra=_STORED_RESPONSE,
    )
    router.add_api_route(
        "/embeddings",
        create_embeddings,
        methods=["POST"],
        responses=_CALL_ERRORS,
        openapi_extra=_EMBEDDINGS,
    )
    router.add_api_route("/models", list_models, methods=["GET"])
    router.add_api_route(
        "/models/{model_id:path}",
        retrieve_model,
        methods=["GET"],
        responses=error_responses(404),
        openapi_extra=_MODEL,
    )
    return router


def attach_router(app: FastAPI) -> None:
    """Mounts the OpenAI routes on `app` under every prefix in `PREFIXES`, served plain
    (facade/plain_routes.py: they are the hot path)."""
    router = build_router()
    for prefix in PREFIXES:
        app.include_router(router, prefix=prefix)  # for the OpenAPI document
    serve_plain(app, router, PREFIXES)
