"""The openai SDK against the whole gateway (core + facade over real sockets, mock provider)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.harness import RunningGateway

USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello from the sdk"}]


def _base_urls(gateway: RunningGateway) -> list[str]:
    return [
        f"{gateway.http_url}/api/inference/openai",
        f"{gateway.http_url}/api/inference/openai/v1",
        f"{gateway.http_url}/v1",
    ]


@pytest.fixture
async def sdk(gateway: RunningGateway) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=gateway.openai_base_url, api_key=gateway.admin_key, max_retries=0
    ) as client:
        yield client


@pytest.mark.parametrize("index", [0, 1, 2])
async def test_chat_under_every_base_url(gateway: RunningGateway, index: int) -> None:
    base_url = _base_urls(gateway)[index]
    async with openai.AsyncOpenAI(base_url=base_url, api_key=gateway.admin_key) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="mock-main/echo", messages=USER, extra_headers={"x-request-id": "sdk-1"}
        )
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert "hello from the sdk" in completion.choices[0].message.content
    assert completion.model == "mock-main/echo"
    assert raw.headers["x-tfy-resolved-model"] == "mock-main/echo"
    assert raw.headers["x-request-id"] == "sdk-1"
    assert completion.id == "chatcmpl-sdk-1"


async def test_stream_with_usage(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.chat.completions.create(
        model="mock-main/echo",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-tfy-metadata": '{"application": "sdk-test"}'},
    )
    text = ""
    usage = None
    ids = set()
    async for chunk in stream:
        ids.add(chunk.id)
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        if chunk.usage is not None:
            usage = chunk.usage
    assert "hello from the sdk" in text
    assert usage is not None
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    assert len(ids) == 1


async def test_embeddings_with_the_sdks_base64_default(sdk: openai.AsyncOpenAI) -> None:
    result = await sdk.embeddings.create(model="mock-main/embed", input=["a b", "c"])
    assert [d.index for d in result.data] == [0, 1]
    assert all(len(d.embedding) == 8 for d in result.data)
    floats = await sdk.embeddings.create(
        model="mock-main/embed", input=["a b", "c"], encoding_format="float"
    )
    for as_float, as_base64 in zip(floats.data, result.data, strict=True):
        assert as_float.embedding == pytest.approx(as_base64.embedding)


async def test_models_list(sdk: openai.AsyncOpenAI) -> None:
    models = [m async for m in sdk.models.list()]
    ids = {m.id for m in models}
    assert {"mock-main/echo", "mock-main/embed"} <= ids
    assert all(m.owned_by == "mock-main" for m in models if m.id.startswith("mock-main/"))


async def test_models_retrieve_by_an_id_holding_a_slash(sdk: openai.AsyncOpenAI) -> None:
    model = await sdk.models.retrieve("mock-main/echo")
    assert (model.id, model.owned_by) == ("mock-main/echo", "mock-main")
    with pytest.raises(openai.NotFoundError) as caught:
        await sdk.models.retrieve("mock-main/nope")
    assert caught.value.code == "model_not_found"


async def test_bad_key_is_an_authentication_error(gateway: RunningGateway) -> None:
    async with openai.AsyncOpenAI(
        base_url=gateway.openai_base_url, api_key="sk-wrong", max_retries=0
    ) as client:
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.chat.completions.create(model="mock-main/echo", messages=USER)
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"


async def test_unknown_model_is_not_found(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await sdk.chat.completions.create(model="mock-main/nope", messages=USER, stream=True)
    assert caught.value.code == "model_not_found"


async def test_provider_failure_is_a_502(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        await sdk.chat.completions.create(
            model="mock-main/echo", messages=USER, extra_body={"mock": {"status": 503}}
        )
    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_error"


async def test_provider_timeout_is_a_504(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        await sdk.chat.completions.create(
            model="mock-main/echo", messages=USER, extra_body={"mock": {"timeout": True}}
        )
    assert caught.value.status_code == 504


async def test_stream_cut_raises_api_error_in_the_sdk(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.chat.completions.create(
        model="mock-main/echo",
        messages=[{"role": "user", "content": "one two three four five six"}],
        stream=True,
        extra_body={"mock": {"cut_after": 2}},
    )
    seen: list[object] = []

    async def consume() -> None:
        async for chunk in stream:
            seen.append(chunk)

    with pytest.raises(openai.APIError, match="cut"):
        await consume()
    assert len(seen) == 2


async def test_healthz_over_http(gateway: RunningGateway) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{gateway.http_url}/healthz")
    assert response.json() == {"status": "ok"}
