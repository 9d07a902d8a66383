"""AnthropicProvider against the fake Anthropic Messages API over real HTTP."""

from __future__ import annotations

import json

import pytest

from codec import struct_to_dict
from core.errors import InvalidRequest, UpstreamFailed, UpstreamRejected, UpstreamStreamCut
from core.providers.anthropic import AnthropicProvider
from gateway.v1.chat_pb2 import FINISH_REASON_LENGTH, FINISH_REASON_STOP, FINISH_REASON_TOOL_CALLS
from gateway.v1.route_service_pb2 import EmbedRequest
from tests.core.providers.support import API_KEY, WEATHER_TOOLS, account, chat_call, collect
from tests.core.providers.test_anthropic_translate import CONVERSATION
from tests.fakes.upstream import FakeUpstream


@pytest.mark.parametrize("stream", [False, True])
async def test_chat(
    anthropic: AnthropicProvider, fake_upstream: FakeUpstream, stream: bool
) -> None:
    model = f"claude-plain-{stream}"
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi there"}]
    deltas, result = await collect(anthropic, chat_call(model, stream=stream, messages=messages))
    assert result.choices[0].message.text == "echo: hi there"
    assert result.choices[0].finish_reason == FINISH_REASON_STOP
    assert (result.usage.input_tokens, result.usage.output_tokens) == (4, 3)
    assert result.usage.total_tokens == 7
    assert struct_to_dict(result.usage.extras) == {
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 3,
    }
    if stream:
        assert "".join(d.content for d in deltas) == "echo: hi there"
    else:
        assert deltas == []
    sent = fake_upstream.last_request(model)
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == API_KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert sent.body["system"] == "Be brief."
    assert sent.body["max_tokens"] == 4096
    assert sent.body["stream"] is stream


@pytest.mark.parametrize("stream", [False, True])
async def test_parallel_tool_calls(
    anthropic: AnthropicProvider, fake_upstream: FakeUpstream, stream: bool
) -> None:
    model = f"claude-tools-{stream}"
    deltas, result = await collect(anthropic, chat_call(model, stream=stream, tools=WEATHER_TOOLS))
    choice = result.choices[0]
    assert choice.finish_reason == FINISH_REASON_TOOL_CALLS
    assert choice.message.text == "Calling tools."
    calls = choice.message.tool_calls
    assert [(c.id, c.type, c.function.name) for c in calls] == [
        ("toolu_0", "function", "get_weather"),
        ("toolu_1", "function", "get_time"),
    ]
    assert [json.loads(c.function.arguments) for c in calls] == [
        {"query": "hi there", "call": 0},
        {"query": "hi there", "call": 1},
    ]
    if stream:
        # Blocks 1 and 2 carry the calls; OpenAI clients must see indexes 0 and 1.
        assert sorted({t.index for d in deltas for t in d.tool_calls}) == [0, 1]
    sent = fake_upstream.last_request(model).body
    assert [t["name"] for t in sent["tools"]] == ["get_weather", "get_time"]


async def test_parallel_tool_use_can_be_disabled(
    anthropic: AnthropicProvider, fake_upstream: FakeUpstream
) -> None:
    call = chat_call("claude-one", stream=True, tools=WEATHER_TOOLS, parallel_tool_calls=False)
    _, result = await collect(anthropic, call)
    assert len(result.choices[0].message.tool_calls) == 1
    assert fake_upstream.last_request("claude-one").body["tool_choice"] == {
        "type": "auto",
        "disable_parallel_tool_use": True,
    }


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_results_go_back_as_one_user_turn(
    anthropic: AnthropicProvider, fake_upstream: FakeUpstream, stream: bool
) -> None:
    # The fake refuses tool_result blocks without a matching tool_use, as Anthropic does.
    model = f"claude-results-{stream}"
    call = chat_call(model, stream=stream, messages=CONVERSATION[:4], tools=WEATHER_TOOLS)
    _, result = await collect(anthropic, call)
    assert result.choices[0].message.text == "tool results: call_a=sunny; call_b=noon"
    sent = fake_upstream.last_request(model).body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert [b["tool_use_id"] for b in sent[2]["content"]] == ["call_a", "call_b"]


async def test_max_tokens_is_length(anthropic: AnthropicProvider) -> None:
    _, result = await collect(anthropic, chat_call("claude-short", stream=True, max_tokens=1))
    assert result.choices[0].finish_reason == FINISH_REASON_LENGTH
    assert result.choices[0].message.text == "echo: "


async def test_account_api_version(fake_upstream: FakeUpstream) -> None:
    provider = AnthropicProvider(
        account("anthropic", fake_upstream.base_url, api_version="2024-01-01"), API_KEY
    )
    try:
        await collect(provider, chat_call("claude-version", stream=False))
    finally:
        await provider.aclose()
    assert fake_upstream.last_request("claude-version").headers["anthropic-version"] == "2024-01-01"


@pytest.mark.parametrize("stream", [False, True])
async def test_errors(anthropic: AnthropicProvider, stream: bool) -> None:
    with pytest.raises(UpstreamRejected) as rejected:
        await collect(anthropic, chat_call("fail-400", stream=stream))
    assert rejected.value.upstream_status == 400
    assert (
        rejected.value.message
        == "acct/fail-400: upstream answered HTTP 400: fake failure 400 for fail-400"
    )
    with pytest.raises(UpstreamRejected) as unauthorized:
        await collect(anthropic, chat_call("fail-401", stream=stream))
    assert API_KEY not in unauthorized.value.message
    assert "invalid x-api-key: ***" in unauthorized.value.message
    with pytest.raises(UpstreamFailed, match="HTTP 529"):
        await collect(anthropic, chat_call("fail-529", stream=stream))
    with pytest.raises(UpstreamFailed, match="connection failed"):
        await collect(anthropic, chat_call("claude-drop", stream=stream))


@pytest.mark.parametrize(
    ("model", "error", "text"),
    [
        ("claude-cut-4", UpstreamStreamCut, "stream broke off"),
        ("claude-trunc-4", UpstreamStreamCut, "ended without message_stop"),
        ("claude-streamerror-3", UpstreamFailed, "failed mid-stream: Overloaded"),
    ],
)
async def test_broken_streams(
    anthropic: AnthropicProvider, model: str, error: type[Exception], text: str
) -> None:
    with pytest.raises(error) as caught:
        await collect(anthropic, chat_call(model, stream=True))
    assert text in str(caught.value)


async def test_bad_request_is_refused_before_any_call(
    anthropic: AnthropicProvider, fake_upstream: FakeUpstream
) -> None:
    messages = [
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}
            ],
        }
    ]
    with pytest.raises(InvalidRequest):
        await collect(anthropic, chat_call("claude-invalid", stream=False, messages=messages))
    assert fake_upstream.requests_for("claude-invalid") == []


async def test_no_embeddings(anthropic: AnthropicProvider) -> None:
    with pytest.raises(InvalidRequest, match="no embeddings models"):
        await anthropic.embed(EmbedRequest(model="a/m", inputs=["x"]), "m")
