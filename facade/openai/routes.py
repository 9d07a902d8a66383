"""The OpenAI-compatible routes, mounted under every base URL the OpenAI SDK may be given."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from facade.errors import ErrorResponse
from facade.openai.chat import create_chat_completion
from facade.openai.embeddings import create_embeddings
from facade.openai.models import list_models

__all__ = ["PREFIXES", "attach_router"]

# base_url=http://host/api/inference/openai, .../openai/v1 and http://host/v1 all work.
PREFIXES = ("/api/inference/openai", "/api/inference/openai/v1", "/v1")

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 403, 404, 413, 429, 500, 502, 504)
}


def build_router() -> APIRouter:
    """A fresh router with the three OpenAI routes."""
    router = APIRouter(tags=["openai"], responses=_ERRORS)
    router.add_api_route("/chat/completions", create_chat_completion, methods=["POST"])
    router.add_api_route("/embeddings", create_embeddings, methods=["POST"])
    router.add_api_route("/models", list_models, methods=["GET"])
    return router


def attach_router(app: FastAPI) -> None:
    """Mounts the OpenAI routes on `app` under every prefix in `PREFIXES`."""
    router = build_router()
    for prefix in PREFIXES:
        app.include_router(router, prefix=prefix)
