"""Errors core reports (via gateway_client) keep their HTTP status, reason and param."""

from __future__ import annotations

import httpx
import pytest

from tests.facade.envelope import CHAT, USER, error_of


@pytest.mark.parametrize(
    ("code", "reason", "status", "param", "kind"),
    [
        ("INVALID_ARGUMENT", "invalid_request", 400, "messages[0].role", "invalid_request_error"),
        ("INVALID_ARGUMENT", "payload_too_large", 413, None, "invalid_request_error"),
        ("UNAUTHENTICATED", "invalid_api_key", 401, None, "authentication_error"),
        ("PERMISSION_DENIED", "permission_denied", 403, None, "permission_error"),
        ("NOT_FOUND", "model_not_found", 404, "model", "invalid_request_error"),
        ("INVALID_ARGUMENT", "upstream_rejected", 422, None, "invalid_request_error"),
        ("RESOURCE_EXHAUSTED", "rate_limited", 429, None, "rate_limit_error"),
        ("INTERNAL", "internal", 500, None, "api_error"),
        ("UNAVAILABLE", "upstream_error", 502, None, "api_error"),
        ("UNAVAILABLE", "upstream_stream_cut", 502, None, "api_error"),
        ("DEADLINE_EXCEEDED", "upstream_timeout", 504, None, "timeout_error"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_gateway_errors_keep_status_reason_and_param(
    http: httpx.AsyncClient,
    code: str,
    reason: str,
    status: int,
    param: str | None,
    kind: str,
    stream: bool,
) -> None:
    model = f"fail/{code}/{reason}/{status}" + (f"/{param}" if param else "")
    response = await http.post(CHAT, json={"model": model, "messages": USER, "stream": stream})
    assert response.status_code == status
    assert error_of(response) == {
        "message": f"{reason} happened",
        "type": kind,
        "param": param,
        "code": reason,
    }
    if reason == "rate_limited":
        assert response.headers["retry-after"] == "7"
    else:
        assert "retry-after" not in response.headers


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("UNAVAILABLE", 503, "api_error"),
        ("UNKNOWN", 500, "api_error"),
        ("NOT_FOUND", 404, "invalid_request_error"),
    ],
)
async def test_gateway_errors_without_details(
    http: httpx.AsyncClient, code: str, status: int, kind: str
) -> None:
    response = await http.post(CHAT, json={"model": f"bare/{code}", "messages": USER})
    assert response.status_code == status
    assert error_of(response) == {
        "message": f"bare {code}",
        "type": kind,
        "param": None,
        "code": code.lower(),
    }


async def test_errors_of_models_and_embeddings(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/v1/embeddings", json={"model": "fail/NOT_FOUND/model_not_found/404/model", "input": "x"}
    )
    assert response.status_code == 404
    assert error_of(response)["code"] == "model_not_found"
    response = await http.get("/v1/models", headers={"authorization": "Basic x"})
    assert response.status_code == 401
