"""The facade's OpenAPI document, completed with what FastAPI cannot see in its handlers.

Routes name their request bodies' models (`facade.openapi.json_body`); this adds those models
to `components.schemas`, declares the bearer key every documented route needs, and drops the
422 answer FastAPI assumes for routes with parameters: the facade answers 400 instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from facade.anthropic.schemas import CountTokensRequest, MessagesRequest
from facade.codegen.schemas import CodegenRequest
from facade.keys.schemas import CreateKeyRequest
from facade.logs.schemas import LogQueryRequest
from facade.metrics.schemas import MetricsQueryRequest
from facade.openai.schemas import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    ResponseRequest,
)
from facade.openapi import SCHEMA_REF

__all__ = ["install_openapi"]

BODY_MODELS: tuple[type[BaseModel], ...] = (
    ChatCompletionRequest,
    CompletionRequest,
    ResponseRequest,
    EmbeddingRequest,
    MessagesRequest,
    CountTokensRequest,
    CreateKeyRequest,
    LogQueryRequest,
    MetricsQueryRequest,
    CodegenRequest,
)
"""Every model a route names in `json_body`."""

_BEARER = "bearerAuth"
_FASTAPI_422 = ("HTTPValidationError", "ValidationError")


def install_openapi(app: FastAPI) -> None:
    """Makes `app.openapi()` (and so `/openapi.json`) answer the completed document."""
    build = app.openapi  # FastAPI's own: builds the document once and caches it on the app

    def openapi() -> dict[str, Any]:
        document = build()
        if "security" not in document:  # as FastAPI built it: not completed yet
            _complete(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented hook


def _complete(document: dict[str, Any]) -> None:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for operation in _operations(document):
        operation.get("responses", {}).pop("422", None)
    for name in _FASTAPI_422:
        schemas.pop(name, None)
    _, definitions = models_json_schema(
        [(model, "validation") for model in BODY_MODELS], ref_template=SCHEMA_REF + "{model}"
    )
    schemas.update(definitions.get("$defs", {}))
    components["schemas"] = dict(sorted(schemas.items()))
    components["securitySchemes"] = {
        _BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "A gateway API key: `Authorization: Bearer <key>`.",
        }
    }
    document["security"] = [{_BEARER: []}]


def _operations(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for path_item in document.get("paths", {}).values():
        yield from path_item.values()
