"""Every failure path answers OpenAI's envelope with the right status, type, code and param."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.clients.fake_core import FakeCore
from tests.facade.conftest import MAX_BODY_BYTES
from tests.facade.envelope import CHAT, USER, error_of


async def test_malformed_json(http: httpx.AsyncClient, core: FakeCore) -> None:
    response = await http.post(CHAT, content=b'{"model": "echo",', headers=_json())
    assert response.status_code == 400
    error = error_of(response)
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "invalid_json",
        None,
    )
    assert [c.method for c in core.calls] == ["ListModels"]  # the key check (facade/key_first.py)


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"42", b"null"])
async def test_body_that_is_not_an_object(http: httpx.AsyncClient, body: bytes) -> None:
    response = await http.post(CHAT, content=body, headers=_json())
    assert response.status_code == 400
    error = error_of(response)
    assert error["message"] == "The request body must be a JSON object."
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": USER}, "model"),
        ({"model": "echo"}, "messages"),
        ({"model": "echo", "messages": USER, "temperature": "hot"}, "temperature"),
        ({"model": 7, "messages": USER}, "model"),
        ({"model": "echo", "messages": "hi"}, "messages"),
        ({"model": "echo", "messages": USER, "stream": "yes"}, "stream"),
        (
            {"model": "echo", "messages": USER, "stream": True, "stream_options": 1},
            "stream_options",
        ),
        (
            {
                "model": "echo",
                "messages": USER,
                "stream": True,
                "stream_options": {"include_usage": 1},
            },
            "stream_options.include_usage",
        ),
    ],
)
async def test_invalid_fields_name_the_param(
    http: httpx.AsyncClient, core: FakeCore, body: dict[str, Any], param: str
) -> None:
    response = await http.post(CHAT, json=body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert [c.method for c in core.calls] == ["ListModels"]  # the key check (facade/key_first.py)


async def test_invalid_embedding_fields(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/embeddings", json={"input": "x"})
    assert response.status_code == 400
    assert error_of(response)["param"] == "model"
    response = await http.post(
        "/v1/embeddings", json={"model": "embed", "input": "x", "encoding_format": "int8"}
    )
    assert response.status_code == 400
    assert error_of(response)["param"] == "encoding_format"


async def test_body_over_the_limit_by_content_length(
    http: httpx.AsyncClient, core: FakeCore
) -> None:
    body = b'{"model": "echo", "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = await http.post(CHAT, content=body, headers=_json())
    assert response.status_code == 413
    error = error_of(response)
    assert (error["type"], error["code"]) == ("invalid_request_error", "payload_too_large")
    assert str(MAX_BODY_BYTES) in error["message"]
    assert [c.method for c in core.calls] == ["ListModels"]  # the key check (facade/key_first.py)


async def test_declared_length_over_the_limit_is_refused_before_reading(
    http: httpx.AsyncClient,
) -> None:
    pulled: list[bytes] = []

    async def body() -> AsyncIterator[bytes]:
        pulled.append(b"{}")
        yield b"{}"

    headers = {**_json(), "content-length": str(MAX_BODY_BYTES + 1)}
    response = await http.post(CHAT, content=body(), headers=headers)
    assert response.status_code == 413
    assert pulled == []


async def test_body_over_the_limit_by_chunked_upload(
    http: httpx.AsyncClient, core: FakeCore
) -> None:
    pulled: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"model": "echo", "pad": "'
        for i in range(10):
            pulled.append(i)
            yield b"x" * (MAX_BODY_BYTES // 4)
        yield b'"}'

    response = await http.post(CHAT, content=chunks(), headers=_json())
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert pulled == [0, 1, 2, 3]  # reading stopped as soon as the cap was passed
    assert [c.method for c in core.calls] == ["ListModels"]  # the key check (facade/key_first.py)


async def test_body_at_the_limit_is_accepted(http: httpx.AsyncClient) -> None:
    body = {"model": "echo", "messages": USER, "pad": ""}
    size = len(httpx.Request("POST", "/", json=body).content)
    body["pad"] = "x" * (MAX_BODY_BYTES - size)
    response = await http.post(CHAT, json=body)
    assert len(response.request.content) == MAX_BODY_BYTES
    assert response.status_code == 200


async def test_invalid_content_length(http: httpx.AsyncClient) -> None:
    response = await http.post(CHAT, content=b"{}", headers={**_json(), "content-length": "abc"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer  ",
        "sk-raw-key",
        "Bearer a b",
        b"Bearer k\xe9y",
        b"Bearer \x01",
    ],
)
async def test_missing_or_garbage_authorization(
    app: FastAPI, core: FakeCore, authorization: str | bytes | None
) -> None:
    headers: dict[bytes, bytes] = {}
    if authorization is not None:
        raw = authorization if isinstance(authorization, bytes) else authorization.encode()
        headers[b"authorization"] = raw
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://facade.test") as bare:
        response = await bare.post(CHAT, json={"model": "echo", "messages": USER}, headers=headers)
    assert response.status_code == 401
    error = error_of(response)
    assert (error["type"], error["code"]) == ("authentication_error", "invalid_api_key")
    assert core.calls == []


async def test_unknown_route_and_wrong_method(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/completions-nope", json={})
    assert response.status_code == 404
    error = error_of(response)
    assert (error["type"], error["code"]) == ("invalid_request_error", "not_found")
    assert "/v1/completions-nope" in error["message"]

    response = await http.get(CHAT)
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert response.headers["allow"] == "POST"


async def test_unexpected_exception_is_a_bare_500(app: FastAPI, http: httpx.AsyncClient) -> None:
    async def boom() -> None:
        raise RuntimeError("secret internals at /etc/passwd")

    app.add_api_route("/boom", boom)
    response = await http.get("/boom")
    assert response.status_code == 500
    error = error_of(response)
    assert error == {
        "message": "The gateway failed to handle the request.",
        "type": "api_error",
        "param": None,
        "code": "internal",
    }
    assert "secret" not in response.text
    assert "Traceback" not in response.text


async def test_request_validation_errors_use_the_envelope(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    async def typed(n: int) -> dict[str, int]:
        return {"n": n}

    app.add_api_route("/typed", typed)
    response = await http.get("/typed", params={"n": "many"})
    assert response.status_code == 400
    error = error_of(response)
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "invalid_request",
        "n",
    )


def _json() -> dict[str, str]:
    return {"content-type": "application/json"}
