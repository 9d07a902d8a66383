"""OpenAIProvider against the fake OpenAI over real HTTP."""

from __future__ import annotations

import json

import pytest

from core.errors import UpstreamFailed, UpstreamRejected, UpstreamStreamCut
from core.providers.openai import OpenAIProvider
from gateway.v1.chat_pb2 import (
    FINISH_REASON_LENGTH,
    FINISH_REASON_STOP,
    FINISH_REASON_TOOL_CALLS,
    ROLE_ASSISTANT,
)
from gateway.v1.route_service_pb2 import EmbedRequest
from tests.core.providers.support import (
    API_KEY,
    WEATHER_TOOLS,
    ScriptedUpstream,
    account,
    chat_call,
    collect,
)
from tests.fakes.upstream import FakeUpstream


async def test_non_stream_answer_and_request(
    openai: OpenAIProvider, fake_upstream: FakeUpstream
) -> None:
    call = chat_call("plain-ns", stream=False, stream_options={"include_usage": True}, seed=7)
    deltas, result = await collect(openai, call)
    assert deltas == []
    choice = result.choices[0]
    assert choice.message.role == ROLE_ASSISTANT
    assert choice.message.text == "echo: hi there"
    assert choice.finish_reason == FINISH_REASON_STOP
    assert (result.usage.input_tokens, result.usage.output_tokens) == (2, 3)
    assert result.usage.total_tokens == 5
    sent = fake_upstream.last_request("plain-ns")
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.body["model"] == "plain-ns"  # the provider's name, not `acct/plain-ns`
    assert sent.body["stream"] is False
    assert "stream_options" not in sent.body
    assert sent.body["seed"] == 7


async def test_stream_yields_deltas_then_the_assembled_result(
    openai: OpenAIProvider, fake_upstream: FakeUpstream
) -> None:
    deltas, result = await collect(openai, chat_call("plain-s", stream=True))
    assert "".join(d.content for d in deltas) == "echo: hi there"
    assert deltas[0].role == ROLE_ASSISTANT
    assert result.choices[0].message.text == "echo: hi there"
    assert result.choices[0].finish_reason == FINISH_REASON_STOP
    # The client never asked for usage; the gateway always does.
    assert result.usage.total_tokens == 5
    assert result.id == "chatcmpl-fake"
    sent = fake_upstream.last_request("plain-s").body
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


async def test_stream_forces_usage_over_the_clients_choice(
    openai: OpenAIProvider, fake_upstream: FakeUpstream
) -> None:
    body = {"stream": False, "stream_options": {"include_usage": False, "x": 1}}
    call = chat_call("usage-off", stream=True, body_fields=body)
    _, result = await collect(openai, call)
    assert result.usage.output_tokens == 3
    sent = fake_upstream.last_request("usage-off").body
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True, "x": 1}


async def test_no_key_sends_no_authorization(fake_upstream: FakeUpstream) -> None:
    provider = OpenAIProvider(account("openai", f"{fake_upstream.base_url}/v1"), None)
    try:
        await collect(provider, chat_call("keyless", stream=False))
    finally:
        await provider.aclose()
    assert "authorization" not in fake_upstream.last_request("keyless").headers


@pytest.mark.parametrize("stream", [False, True])
async def test_parallel_tool_calls_keep_their_indexes(
    openai: OpenAIProvider, fake_upstream: FakeUpstream, stream: bool
) -> None:
    call = chat_call(f"weather-{stream}", stream=stream, tools=WEATHER_TOOLS, tool_choice="auto")
    deltas, result = await collect(openai, call)
    message = result.choices[0].message
    assert result.choices[0].finish_reason == FINISH_REASON_TOOL_CALLS
    assert [(c.id, c.function.name) for c in message.tool_calls] == [
        ("call_0", "get_weather"),
        ("call_1", "get_time"),
    ]
    assert [json.loads(c.function.arguments)["call"] for c in message.tool_calls] == [0, 1]
    if stream:
        indexes = [t.index for d in deltas for t in d.tool_calls]
        assert set(indexes) == {0, 1}
        assert indexes == sorted(indexes)
    sent = fake_upstream.last_request(f"weather-{stream}").body
    assert sent["tools"] == WEATHER_TOOLS
    assert sent["tool_choice"] == "auto"


async def test_parallel_tool_calls_false_passes_through(
    openai: OpenAIProvider, fake_upstream: FakeUpstream
) -> None:
    call = chat_call("one-tool", stream=True, tools=WEATHER_TOOLS, parallel_tool_calls=False)
    _, result = await collect(openai, call)
    assert len(result.choices[0].message.tool_calls) == 1
    assert fake_upstream.last_request("one-tool").body["parallel_tool_calls"] is False


async def test_several_choices_and_length_finish(openai: OpenAIProvider) -> None:
    _, result = await collect(openai, chat_call("two", stream=True, n=2, max_tokens=2))
    assert [c.index for c in result.choices] == [0, 1]
    assert [c.message.text for c in result.choices] == ["echo: hi ", "echo: hi "]
    assert {c.finish_reason for c in result.choices} == {FINISH_REASON_LENGTH}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("status", [400, 404, 429])
async def test_4xx_passes_through_with_the_providers_message(
    openai: OpenAIProvider, status: int, stream: bool
) -> None:
    with pytest.raises(UpstreamRejected) as caught:
        await collect(openai, chat_call(f"fail-{status}", stream=stream))
    assert caught.value.upstream_status == status
    assert caught.value.http_code() == status
    model = f"fail-{status}"
    expected = f"acct/{model}: upstream answered HTTP {status}: fake failure {status} for {model}"
    assert caught.value.message == expected


@pytest.mark.parametrize("stream", [False, True])
async def test_5xx_is_upstream_failed(openai: OpenAIProvider, stream: bool) -> None:
    with pytest.raises(UpstreamFailed) as caught:
        await collect(openai, chat_call("fail-503", stream=stream))
    assert "HTTP 503: fake failure 503" in caught.value.message
    with pytest.raises(UpstreamFailed) as raw:
        await collect(openai, chat_call("failtext-500", stream=stream))
    assert "HTTP 500: upstream exploded (500)" in raw.value.message


async def test_the_key_never_appears_in_an_error(openai: OpenAIProvider) -> None:
    # The fake echoes the key it received in its 401 message, as OpenAI does (partly).
    with pytest.raises(UpstreamRejected) as caught:
        await collect(openai, chat_call("fail-401", stream=False))
    assert API_KEY not in caught.value.message
    assert API_KEY not in repr(caught.value)
    assert "Incorrect API key provided: Bearer ***" in caught.value.message


@pytest.mark.parametrize(
    ("model", "error", "text"),
    [
        ("cut-3", UpstreamStreamCut, "stream broke off"),
        ("trunc-3", UpstreamStreamCut, "ended without [DONE]"),
        ("streamerror-2", UpstreamFailed, "failed mid-stream: fake overload mid-stream"),
        ("drop", UpstreamFailed, "connection failed"),
    ],
)
async def test_broken_streams(
    openai: OpenAIProvider, model: str, error: type[Exception], text: str
) -> None:
    with pytest.raises(error) as caught:
        await collect(openai, chat_call(model, stream=True))
    assert text in str(caught.value)


async def test_drop_without_stream_is_upstream_failed(openai: OpenAIProvider) -> None:
    with pytest.raises(UpstreamFailed):
        await collect(openai, chat_call("drop-ns", stream=False))


async def test_stream_without_a_finish_reason_is_cut() -> None:
    chunk = {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "hi"}}]}
    upstream = ScriptedUpstream(events=[(None, json.dumps(chunk)), (None, "[DONE]")])
    provider = OpenAIProvider(account("openai", None), "k", upstream=upstream)
    with pytest.raises(UpstreamStreamCut, match="without a finish reason"):
        await collect(provider, chat_call("m", stream=True))
    assert upstream.sent[0][0] == "/chat/completions"


async def test_unexpected_body_is_upstream_failed() -> None:
    upstream = ScriptedUpstream(answer={"choices": "not a list"})
    provider = OpenAIProvider(account("openai", None), "k", upstream=upstream)
    with pytest.raises(UpstreamFailed, match="unexpected body"):
        await collect(provider, chat_call("m", stream=False))


async def test_embeddings(openai: OpenAIProvider, fake_upstream: FakeUpstream) -> None:
    request = EmbedRequest(model="acct/emb-1", inputs=["a b", "c"], dimensions=4)
    response = await openai.embed(request, "emb-1")
    assert [e.index for e in response.embeddings] == [0, 1]
    assert [len(e.values) for e in response.embeddings] == [4, 4]
    assert response.embeddings[0].values != response.embeddings[1].values
    assert response.usage.input_tokens == 3
    sent = fake_upstream.last_request("emb-1")
    assert sent.path == "/v1/embeddings"
    assert sent.body == {
        "model": "emb-1",
        "input": ["a b", "c"],
        "dimensions": 4,
        "encoding_format": "float",
    }


async def test_embeddings_errors_name_the_model(openai: OpenAIProvider) -> None:
    with pytest.raises(UpstreamRejected) as caught:
        await openai.embed(EmbedRequest(model="x/fail-422", inputs=["a"]), "fail-422")
    assert caught.value.message.startswith("openai-main/fail-422: upstream answered HTTP 422")


async def test_error_body_with_200_is_upstream_failed() -> None:
    upstream = ScriptedUpstream(answer={"error": {"message": "model is loading"}})
    provider = OpenAIProvider(account("openai", None), "k", upstream=upstream)
    with pytest.raises(UpstreamFailed, match="upstream failed: model is loading"):
        await collect(provider, chat_call("m", stream=False))
