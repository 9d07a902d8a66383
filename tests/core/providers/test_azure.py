"""AzureOpenAIProvider against the fake Azure endpoints over real HTTP."""

from __future__ import annotations

import pytest

from core.errors import UpstreamRejected, UpstreamStreamCut
from core.providers.azure import AzureOpenAIProvider
from gateway.v1.chat_pb2 import FINISH_REASON_STOP, FINISH_REASON_TOOL_CALLS
from gateway.v1.route_service_pb2 import EmbedRequest
from tests.core.providers.support import API_KEY, WEATHER_TOOLS, account, chat_call, collect
from tests.fakes.upstream import FakeUpstream


@pytest.mark.parametrize("stream", [False, True])
async def test_chat_goes_to_the_models_deployment(
    azure: AzureOpenAIProvider, fake_upstream: FakeUpstream, stream: bool
) -> None:
    before = len(fake_upstream.requests_for("prod-gpt4o"))
    _, result = await collect(azure, chat_call("gpt-4o", stream=stream))
    assert result.choices[0].message.text == "echo: hi there"
    assert result.choices[0].finish_reason == FINISH_REASON_STOP
    assert result.usage.total_tokens == 5
    sent = fake_upstream.requests_for("prod-gpt4o")[before:]
    assert len(sent) == 1
    assert sent[0].path == "/openai/deployments/prod-gpt4o/chat/completions"
    assert sent[0].query == {"api-version": "2024-10-21"}
    assert sent[0].headers["api-key"] == API_KEY
    assert "authorization" not in sent[0].headers
    assert "model" not in sent[0].body
    assert sent[0].body["stream"] is stream


async def test_unlisted_model_is_its_own_deployment(
    azure: AzureOpenAIProvider, fake_upstream: FakeUpstream
) -> None:
    call = chat_call("az-tools", stream=True, tools=WEATHER_TOOLS)
    deltas, result = await collect(azure, call)
    assert result.choices[0].finish_reason == FINISH_REASON_TOOL_CALLS
    assert [c.function.name for c in result.choices[0].message.tool_calls] == [
        "get_weather",
        "get_time",
    ]
    assert {t.index for d in deltas for t in d.tool_calls} == {0, 1}
    assert fake_upstream.last_request("az-tools").path.endswith("/az-tools/chat/completions")


async def test_api_version_comes_from_the_account(fake_upstream: FakeUpstream) -> None:
    acct = account("azure-openai", f"{fake_upstream.base_url}/", api_version="2025-01-01-preview")
    provider = AzureOpenAIProvider(acct, API_KEY)
    try:
        await collect(provider, chat_call("az-version", stream=False))
    finally:
        await provider.aclose()
    assert fake_upstream.last_request("az-version").query == {"api-version": "2025-01-01-preview"}


async def test_missing_key_is_azures_401(fake_upstream: FakeUpstream) -> None:
    provider = AzureOpenAIProvider(account("azure-openai", fake_upstream.base_url), None)
    try:
        with pytest.raises(UpstreamRejected) as caught:
            await collect(provider, chat_call("az-nokey", stream=True))
    finally:
        await provider.aclose()
    assert caught.value.upstream_status == 401
    assert "Access denied" in caught.value.message


async def test_errors_and_key_redaction(azure: AzureOpenAIProvider) -> None:
    with pytest.raises(UpstreamRejected) as caught:
        await collect(azure, chat_call("fail-401", stream=False))
    assert API_KEY not in caught.value.message
    with pytest.raises(UpstreamStreamCut):
        await collect(azure, chat_call("az-cut-2", stream=True))


async def test_embeddings_use_the_deployment(
    azure: AzureOpenAIProvider, fake_upstream: FakeUpstream
) -> None:
    response = await azure.embed(EmbedRequest(model="azure/embed", inputs=["x y"]), "embed")
    assert len(response.embeddings) == 1
    assert len(response.embeddings[0].values) == 8
    sent = fake_upstream.last_request("emb-small")
    assert sent.path == "/openai/deployments/emb-small/embeddings"
    assert sent.query == {"api-version": "2024-10-21"}
    assert sent.body == {"input": ["x y"], "encoding_format": "float"}
