"""GET /models, POST /embeddings and GET /healthz."""

from __future__ import annotations

import base64
from array import array

import httpx
import pytest
from fastapi import FastAPI

from facade.openai import PREFIXES
from tests.clients.fake_core import FakeCore
from tests.facade.conftest import API_KEY


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_models_in_openai_list_shape(
    http: httpx.AsyncClient, core: FakeCore, prefix: str
) -> None:
    response = await http.get(f"{prefix}/models", headers={"x-request-id": "r-1"})
    assert response.status_code == 200
    assert response.json() == {
        "object": "list",
        "data": [
            {"id": "mock-main/echo", "object": "model", "created": 0, "owned_by": "mock-main"},
            {"id": "mock-main/embed", "object": "model", "created": 0, "owned_by": "mock-main"},
        ],
    }
    assert core.last.metadata["authorization"] == f"Bearer {API_KEY}"
    assert core.last.metadata["x-request-id"] == "r-1"


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_one_model_by_an_id_holding_a_slash(http: httpx.AsyncClient, prefix: str) -> None:
    response = await http.get(f"{prefix}/models/mock-main/echo")
    assert response.status_code == 200
    assert response.json() == {
        "id": "mock-main/echo",
        "object": "model",
        "created": 0,
        "owned_by": "mock-main",
    }


@pytest.mark.parametrize("model_id", ["mock-main/nope", "nope", "mock-main/echo/extra"])
async def test_an_unknown_model_is_404_model_not_found(
    http: httpx.AsyncClient, model_id: str
) -> None:
    response = await http.get(f"/v1/models/{model_id}")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "model_not_found"
    assert error["param"] == "model"
    assert model_id in error["message"]


async def test_model_lookup_needs_a_key(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://facade.test") as bare:
        response = await bare.get("/v1/models/mock-main/echo")
    assert response.status_code == 401


async def test_embeddings_as_floats(http: httpx.AsyncClient, core: FakeCore) -> None:
    response = await http.post(
        "/v1/embeddings",
        json={"model": "embed", "input": ["a", "bcd"]},
        headers={"x-tfy-metadata": '{"team": "search"}'},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert body["model"] == "embed"
    assert [d["embedding"] for d in body["data"]] == [[0.5, 1.0], [0.5, 3.0]]
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert body["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    assert core.last.metadata["x-tfy-metadata-bin"] == b'{"team": "search"}'
    assert list(core.last.request.inputs) == ["a", "bcd"]


async def test_embeddings_as_base64(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/api/inference/openai/embeddings",
        json={"model": "embed", "input": "abcd", "encoding_format": "base64"},
    )
    assert response.status_code == 200
    vector = array("f")
    vector.frombytes(base64.b64decode(response.json()["data"][0]["embedding"]))
    assert list(vector) == [0.5, 4.0]


async def test_healthz_needs_no_key(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://facade.test") as bare:
        response = await bare.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
