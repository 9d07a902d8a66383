"""Every answer carries `x-request-id`, errors included (facade/request_ids.py, and core's
id on the errors it reports)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import openai
import pytest
from fastapi import FastAPI

from facade.header_limits import MAX_HEADER_BYTES
from tests.conftest import MOCK_CONFIG
from tests.facade.conftest import API_KEY
from tests.harness import run_gateway

FRESH = re.compile(r"^[0-9a-f]{32}$")
CHAT = {"model": "mock-main/echo", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def bare(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://facade.test")


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("POST", "/v1/chat/completions", {"content": b"{"}, 400),
        ("POST", "/v1/chat/completions", {"json": {**CHAT, "n": "x"}}, 400),
        ("GET", "/no/such/route", {}, 404),
        ("GET", "/v1/chat/completions", {}, 405),
        ("POST", "/v1/chat/completions", {"headers": {"authorization": ""}, "json": CHAT}, 401),
        ("GET", "/v1/models", {"headers": {"x-big": "a" * MAX_HEADER_BYTES}}, 431),
    ],
)
async def test_an_answer_the_facade_gives_itself_has_an_id(
    bare: httpx.AsyncClient, method: str, path: str, kwargs: dict[str, object], status: int
) -> None:
    headers = {"authorization": f"Bearer {API_KEY}", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    response = await bare.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status
    assert FRESH.match(response.headers["x-request-id"])
    again = await bare.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
    assert again.headers["x-request-id"] != response.headers["x-request-id"]


async def test_the_callers_usable_id_is_echoed_and_an_unusable_one_replaced(
    bare: httpx.AsyncClient,
) -> None:
    mine = await bare.get("/no/such/route", headers={"x-request-id": "my-id-1"})
    assert mine.headers.get_list("x-request-id") == ["my-id-1"]
    odd = await bare.get("/no/such/route", headers={"x-request-id": "tab\there"})
    assert FRESH.match(odd.headers["x-request-id"])


async def test_a_success_keeps_cores_id_alone(bare: httpx.AsyncClient) -> None:
    response = await bare.get("/v1/models", headers={"authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 200
    assert len(response.headers.get_list("x-request-id")) == 1


def test_an_error_core_reports_carries_the_id_of_its_log_record(tmp_path: Path) -> None:
    with run_gateway(MOCK_CONFIG, data_dir=tmp_path) as gateway:
        url, key = gateway.openai_base_url, gateway.admin_key
        with (
            openai.OpenAI(base_url=url, api_key=key, max_retries=0) as sdk,
            pytest.raises(openai.BadRequestError) as refused,
        ):
            sdk.chat.completions.create(
                model="mock-main/echo",
                messages=[{"role": "user", "content": "hi"}],
                extra_body={"mock": {"status": 400, "message": "no"}},
            )
        with (
            openai.OpenAI(base_url=url, api_key=key, max_retries=0) as sdk,
            pytest.raises(openai.RateLimitError) as limited,
        ):
            sdk.chat.completions.create(
                model="mock-main/echo",
                messages=[{"role": "user", "content": "hi"}],
                extra_body={"mock": {"status": 429, "retry_after": 7}},
            )
        with (
            openai.OpenAI(base_url=url, api_key="sk-wrong", max_retries=0) as wrong,
            pytest.raises(openai.AuthenticationError) as stranger,
        ):
            wrong.models.list()
    assert stranger.value.request_id is not None
    assert limited.value.response.headers["retry-after"] == "7"
    log_id = refused.value.request_id
    assert log_id is not None
    assert limited.value.request_id not in (None, log_id)
    # Stopping drained the log pipeline into the store; a new gateway over it reads it back.
    with run_gateway(MOCK_CONFIG, data_dir=tmp_path) as gateway:
        records = {
            seen: httpx.get(
                f"{gateway.http_url}/api/svc/v1/llm-gateway/requests/{seen}",
                headers={"authorization": f"Bearer {gateway.admin_key}"},
            )
            for seen in (log_id, limited.value.request_id)
        }
    for seen, record in records.items():
        assert record.status_code == 200, record.text
        assert record.json()["id"] == seen
    assert records[limited.value.request_id].json()["http_status"] == 429


def test_the_callers_own_id_finds_the_record_of_its_newest_call(tmp_path: Path) -> None:
    with run_gateway(MOCK_CONFIG, data_dir=tmp_path) as gateway:
        url, key = gateway.openai_base_url, gateway.admin_key
        with openai.OpenAI(base_url=url, api_key=key, max_retries=0) as sdk:
            for content in ("first try", "second try"):  # a retry reuses its id
                answer = sdk.chat.completions.with_raw_response.create(
                    model="mock-main/echo",
                    messages=[{"role": "user", "content": content}],
                    extra_headers={"x-request-id": "order-4711"},
                )
                assert answer.headers["x-request-id"] == "order-4711"
    with run_gateway(MOCK_CONFIG, data_dir=tmp_path) as gateway:
        headers = {"authorization": f"Bearer {gateway.admin_key}"}
        path = f"{gateway.http_url}/api/svc/v1/llm-gateway/requests"
        found = httpx.get(f"{path}/order-4711", headers=headers)
        missing = httpx.get(f"{path}/order-4712", headers=headers)
        listed = httpx.post(path, headers=headers, json={}).json()["data"]
    assert found.status_code == 200, found.text
    calls = [r for r in listed if r["id"].startswith("order-4711.")]
    assert len(calls) == 2  # one record per call
    newest = max(calls, key=lambda r: (r["created_at"], r["id"]))
    assert found.json() == newest
    assert missing.status_code == 404
