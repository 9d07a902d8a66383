"""facade/plain_routes.py: the OpenAI routes answer through Starlette's plain routes, which
sit in front of the FastAPI routes that document them, and behave as those did."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from facade.openai import PREFIXES
from facade.plain_routes import PlainRoute


def test_every_openai_route_is_served_plain_ahead_of_every_other_route(app: FastAPI) -> None:
    plain = {
        (route.path, method)
        for route in app.router.routes
        if isinstance(route, PlainRoute)
        for method in route.methods or ()
    }
    expected = {
        (prefix + path, method)
        for prefix in PREFIXES
        for path, method in (
            ("/chat/completions", "POST"),
            ("/embeddings", "POST"),
            ("/models", "GET"),
        )
    }
    assert plain == expected
    first = app.router.routes[: len(expected)]
    assert all(isinstance(route, PlainRoute) for route in first)


def test_the_openapi_document_still_declares_them(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    for prefix in PREFIXES:
        assert "requestBody" in paths[f"{prefix}/chat/completions"]["post"]
        assert "get" in paths[f"{prefix}/models"]


async def test_a_plain_route_keeps_fastapi_methods(http: httpx.AsyncClient) -> None:
    # Starlette would add HEAD to a GET route; FastAPI's did not, and neither does ours.
    head = await http.head("/v1/models")
    assert head.status_code == 405
    assert "GET" in head.headers["allow"]
    wrong = await http.get("/v1/chat/completions")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["type"] == "invalid_request_error"
