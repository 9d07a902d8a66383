"""Size failures on the facade's gRPC hop: 502 (answer) or 413 (request), never a retried 429.

The facade's client here allows LIMIT bytes per message; the scripted core answers `big/<n>`
with n bytes of text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import orjson
import pytest
from fastapi import FastAPI

from facade.settings import FacadeSettings
from tests.clients.fake_core import FakeCore
from tests.facade.conftest import API_KEY, facade_app, facade_http
from tests.facade.envelope import CHAT, USER, error_of

LIMIT = 64 * 1024
BIG = f"big/{2 * LIMIT}"


@pytest.fixture
async def small_app(core_server: tuple[FakeCore, str]) -> AsyncIterator[FastAPI]:
    # The body cap is above the message limit on purpose: the hop itself must answer 413.
    settings = FacadeSettings(max_body_bytes=4 * LIMIT, request_timeout_seconds=10)
    async with facade_app(core_server[1], settings, max_message_bytes=LIMIT) as built:
        yield built


@pytest.fixture
async def small_http(small_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with facade_http(small_app) as client:
        yield client


async def test_an_answer_over_the_limit_is_a_502_not_to_retry(
    small_http: httpx.AsyncClient,
) -> None:
    response = await small_http.post(CHAT, json={"model": BIG, "messages": USER})
    assert response.status_code == 502
    error = error_of(response)
    assert (error["type"], error["code"], error["param"]) == (
        "api_error",
        "response_too_large",
        None,
    )
    assert f"over the limit of {LIMIT} bytes" in error["message"]
    assert response.headers["x-should-retry"] == "false"
    assert "retry-after" not in response.headers


async def test_a_request_over_the_limit_is_a_413(
    small_http: httpx.AsyncClient, core: FakeCore
) -> None:
    messages = [{"role": "user", "content": "x" * (2 * LIMIT)}]
    response = await small_http.post(CHAT, json={"model": "echo", "messages": messages})
    assert response.status_code == 413
    error = error_of(response)
    assert (error["type"], error["code"]) == ("invalid_request_error", "payload_too_large")
    assert "x-should-retry" not in response.headers
    assert core.calls == []


async def test_a_stream_whose_result_is_over_the_limit_ends_with_a_502_event(
    small_http: httpx.AsyncClient,
) -> None:
    response = await small_http.post(CHAT, json={"model": BIG, "messages": USER, "stream": True})
    assert response.status_code == 200  # the headers went out with the first delta
    blocks = response.text.removesuffix("\n\n").split("\n\n")
    events: list[Any] = [orjson.loads(b.removeprefix("data: ")) for b in blocks]
    assert events[0]["choices"][0]["delta"]["content"] == "hi"
    assert events[-1]["error"]["code"] == "response_too_large"
    assert events[-1]["error"]["type"] == "api_error"
    assert "[DONE]" not in response.text


async def test_the_openai_sdk_does_not_retry_an_answer_too_large(
    small_app: FastAPI, core: FakeCore
) -> None:
    http_client = httpx.AsyncClient(transport=httpx.ASGITransport(small_app))
    async with openai.AsyncOpenAI(
        base_url="http://facade.test/v1", api_key=API_KEY, max_retries=2, http_client=http_client
    ) as sdk:
        with pytest.raises(openai.InternalServerError) as caught:
            await sdk.chat.completions.create(
                model=BIG, messages=[{"role": "user", "content": "hi"}]
            )
    assert caught.value.status_code == 502
    assert caught.value.code == "response_too_large"
    assert len(core.calls) == 1  # each retry would have been a call (billed upstream)


async def test_a_rate_limit_is_still_a_429_to_retry(small_http: httpx.AsyncClient) -> None:
    model = "fail/RESOURCE_EXHAUSTED/rate_limited/429"
    response = await small_http.post(CHAT, json={"model": model, "messages": USER})
    assert response.status_code == 429
    assert error_of(response)["type"] == "rate_limit_error"
    assert response.headers["retry-after"] == "7"
    assert "x-should-retry" not in response.headers
