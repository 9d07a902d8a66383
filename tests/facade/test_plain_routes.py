"""facade/plain_routes.py: the API's hot routes (OpenAI's and Anthropic's) answer through
Starlette's plain routes, which sit in front of the FastAPI routes that document them, and
behave as those did."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from facade.anthropic.routes import PREFIXES as ANTHROPIC_PREFIXES
from facade.openai import PREFIXES
from facade.plain_routes import PlainRoute

OPENAI_ROUTES = (
    ("/chat/completions", "POST"),
    ("/completions", "POST"),
    ("/responses", "POST"),
    ("/responses/{response_id}", "GET"),
    ("/responses/{response_id}", "DELETE"),
    ("/embeddings", "POST"),
    ("/models", "GET"),
    ("/models/{model_id:path}", "GET"),
)
ANTHROPIC_ROUTES = (("/messages", "POST"), ("/messages/count_tokens", "POST"))


def test_every_api_route_is_served_plain_ahead_of_every_fastapi_route(app: FastAPI) -> None:
    routes = app.router.routes
    api = [
        (index, route)
        for index, route in enumerate(routes)
        if isinstance(route, PlainRoute) and route.path.startswith(("/v1", "/api/inference/"))
    ]
    served = {(route.path, method) for _, route in api for method in route.methods or ()}
    assert served == {
        (prefix + path, method) for prefix in PREFIXES for path, method in OPENAI_ROUTES
    } | {
        (prefix + path, method)
        for prefix in ANTHROPIC_PREFIXES
        for path, method in ANTHROPIC_ROUTES
    }
    first_fastapi = next(i for i, route in enumerate(routes) if not isinstance(route, PlainRoute))
    assert all(index < first_fastapi for index, _ in api)


def test_the_openapi_document_still_declares_them(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    for prefix in PREFIXES:
        assert "requestBody" in paths[f"{prefix}/chat/completions"]["post"]
        assert "requestBody" in paths[f"{prefix}/completions"]["post"]
        assert "requestBody" in paths[f"{prefix}/responses"]["post"]
        assert "get" in paths[f"{prefix}/models"]


async def test_a_plain_route_keeps_fastapi_methods(http: httpx.AsyncClient) -> None:
    # Starlette would add HEAD to a GET route; FastAPI's did not, and neither does ours.
    head = await http.head("/v1/models")
    assert head.status_code == 405
    assert "GET" in head.headers["allow"]
    wrong = await http.get("/v1/chat/completions")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["type"] == "invalid_request_error"
