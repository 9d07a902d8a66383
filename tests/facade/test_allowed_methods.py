"""A 405's `Allow` header lists every method the path accepts, over all of its routes."""

from __future__ import annotations

import httpx
import pytest

from tests.facade.envelope import error_of


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        # GET and POST are two routes on one path: both are allowed.
        ("OPTIONS", "/api/svc/v1/keys", "GET, POST"),
        ("DELETE", "/api/svc/v1/keys", "GET, POST"),
        ("PUT", "/api/svc/v1/keys/key-1", "DELETE"),
        ("GET", "/api/svc/v1/keys/key-1/rotate", "POST"),
        ("GET", "/v1/chat/completions", "POST"),
        ("POST", "/api/inference/openai/models", "GET"),
        ("OPTIONS", "/api/svc/v1/llm-gateway/requests", "POST"),
        ("DELETE", "/api/svc/v1/llm-gateway/requests/req-1", "GET"),
    ],
)
async def test_405_allows_every_method_of_the_path(
    http: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    response = await http.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    error = error_of(response)
    assert (error["type"], error["code"]) == ("invalid_request_error", "method_not_allowed")
    assert error["message"] == f"Method {method} is not allowed on {path}."


async def test_an_unknown_path_is_still_404(http: httpx.AsyncClient) -> None:
    response = await http.options("/api/svc/v1/nothing-here")
    assert response.status_code == 404
    assert "allow" not in response.headers
