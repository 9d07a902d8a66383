"""GeminiProvider against the fake Gemini API over real HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from codec import struct_to_dict
from core.errors import (
    InvalidRequest,
    UpstreamFailed,
    UpstreamRejected,
    UpstreamStreamCut,
    UpstreamTimeout,
)
from core.providers.gemini import GeminiProvider
from gateway.v1.chat_pb2 import (
    FINISH_REASON_CONTENT_FILTER,
    FINISH_REASON_LENGTH,
    FINISH_REASON_STOP,
    FINISH_REASON_TOOL_CALLS,
)
from gateway.v1.route_service_pb2 import EmbedRequest
from tests.core.providers.support import API_KEY, WEATHER_TOOLS, account, chat_call, collect
from tests.fakes.gemini_wire import FakeGemini, fake_gemini, fake_vector

__all__ = ["fake_gemini"]


@pytest.fixture
async def gemini(fake_gemini: FakeGemini) -> AsyncIterator[GeminiProvider]:
    provider = GeminiProvider(account("gemini", fake_gemini.base_url, timeout_seconds=2), API_KEY)
    yield provider
    await provider.aclose()


@pytest.mark.parametrize("stream", [False, True])
async def test_chat(gemini: GeminiProvider, fake_gemini: FakeGemini, stream: bool) -> None:
    model = f"gem-plain-cache-{stream}"
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi there"}]
    deltas, result = await collect(gemini, chat_call(model, stream=stream, messages=messages))
    choice = result.choices[0]
    assert choice.message.text == "echo: hi there"
    assert choice.finish_reason == FINISH_REASON_STOP
    # 2 system and user words + the 2 of the last user turn; 3 pieces out.
    assert (result.usage.input_tokens, result.usage.output_tokens) == (4, 3)
    assert result.usage.total_tokens == 7
    assert struct_to_dict(result.usage.extras) == {"prompt_tokens_details": {"cached_tokens": 2}}
    assert result.id == "resp-fake"
    if stream:
        assert "".join(d.content for d in deltas) == "echo: hi there"
        assert len(deltas) > 2
    else:
        assert deltas == []
    sent = fake_gemini.last_request(model)
    action = "streamGenerateContent" if stream else "generateContent"
    assert sent.path == f"/v1beta/models/{model}:{action}"
    assert sent.query == ({"alt": "sse"} if stream else {})
    assert sent.headers["x-goog-api-key"] == API_KEY
    assert "authorization" not in sent.headers
    assert sent.body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert sent.body["contents"] == [{"role": "user", "parts": [{"text": "hi there"}]}]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("with_ids", [False, True])
async def test_parallel_tool_calls_and_their_results_round_trip(
    gemini: GeminiProvider, fake_gemini: FakeGemini, stream: bool, with_ids: bool
) -> None:
    model = f"gem-tools{'-withids' if with_ids else ''}-{stream}"
    _, first = await collect(gemini, chat_call(model, stream=stream, tools=WEATHER_TOOLS))
    choice = first.choices[0]
    assert choice.finish_reason == FINISH_REASON_TOOL_CALLS
    calls = choice.message.tool_calls
    assert [(c.type, c.function.name) for c in calls] == [
        ("function", "get_weather"),
        ("function", "get_time"),
    ]
    assert [json.loads(c.function.arguments) for c in calls] == [
        {"query": "hi there", "call": 0},
        {"query": "hi there", "call": 1},
    ]
    ids = [c.id for c in calls]
    assert len(set(ids)) == 2
    if with_ids:
        assert ids == ["fc-0", "fc-1"]
    # The first call's signature is kept where OpenAI-compatible clients carry it back.
    assert struct_to_dict(calls[0].extras) == {
        "extra_content": {"google": {"thought_signature": "sig-fake-0"}}
    }

    # The conversation goes on as an OpenAI client sends it: the assistant turn, then results.
    assistant = {
        "role": "assistant",
        "content": choice.message.text,
        "tool_calls": [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.function.name, "arguments": c.function.arguments},
                **struct_to_dict(c.extras),
            }
            for c in calls
        ],
    }
    messages = [
        {"role": "user", "content": "hi there"},
        assistant,
        {"role": "tool", "tool_call_id": ids[1], "content": "noon"},
        {"role": "tool", "tool_call_id": ids[0], "content": '{"sky": "clear"}'},
    ]
    _, second = await collect(
        gemini, chat_call(model, stream=stream, messages=messages, tools=WEATHER_TOOLS)
    )
    assert (
        second.choices[0].message.text
        == 'tool results: get_time=noon; get_weather={"sky": "clear"}'
    )
    sent = fake_gemini.last_request(model).body["contents"]
    assert [c["role"] for c in sent] == ["user", "model", "user"]
    model_parts = sent[1]["parts"]
    assert model_parts[1]["thoughtSignature"] == "sig-fake-0"
    responses = [p["functionResponse"] for p in sent[2]["parts"]]
    assert [r["name"] for r in responses] == ["get_time", "get_weather"]
    assert [r["response"] for r in responses] == [{"output": "noon"}, {"sky": "clear"}]
    if with_ids:
        assert [r["id"] for r in responses] == ["fc-1", "fc-0"]
        assert [p["functionCall"]["id"] for p in model_parts[1:]] == ["fc-0", "fc-1"]
    else:
        # Ids the gateway made up are its own: Gemini never sees them.
        assert all("id" not in r for r in responses)
        assert all("id" not in p["functionCall"] for p in model_parts[1:])


async def test_stream_tool_call_deltas(gemini: GeminiProvider) -> None:
    deltas, result = await collect(
        gemini, chat_call("gem-tools-deltas", stream=True, tools=WEATHER_TOOLS)
    )
    pieces = [(t.index, t.name) for d in deltas for t in d.tool_calls]
    assert pieces == [(0, "get_weather"), (1, "get_time")]
    streamed_ids = [t.id for d in deltas for t in d.tool_calls]
    assert streamed_ids == [c.id for c in result.choices[0].message.tool_calls]


async def test_tool_choice_reaches_gemini(gemini: GeminiProvider, fake_gemini: FakeGemini) -> None:
    call = chat_call(
        "gem-choice",
        stream=False,
        tools=WEATHER_TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    _, result = await collect(gemini, call)
    assert [c.function.name for c in result.choices[0].message.tool_calls] == ["get_time"]
    assert fake_gemini.last_request("gem-choice").body["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_time"]}
    }
    _, none = await collect(
        gemini, chat_call("gem-choice", stream=False, tools=WEATHER_TOOLS, tool_choice="none")
    )
    assert not none.choices[0].message.tool_calls
    assert none.choices[0].finish_reason == FINISH_REASON_STOP


@pytest.mark.parametrize("stream", [False, True])
async def test_image_and_json_schema(
    gemini: GeminiProvider, fake_gemini: FakeGemini, stream: bool
) -> None:
    content = [
        {"type": "text", "text": "what is it"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    schema = {"type": "object", "properties": {"echo": {"type": "string"}}, "required": ["echo"]}
    call = chat_call(
        f"gem-image-{stream}",
        stream=stream,
        messages=[{"role": "user", "content": content}],
        response_format={"type": "json_schema", "json_schema": {"name": "e", "schema": schema}},
    )
    _, result = await collect(gemini, call)
    assert json.loads(result.choices[0].message.text) == {"echo": "what is it [image/png 8 bytes]"}
    sent = fake_gemini.last_request(f"gem-image-{stream}").body
    assert sent["contents"][0]["parts"][1] == {
        "inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}
    }
    assert sent["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseJsonSchema": schema,
    }


@pytest.mark.parametrize("stream", [False, True])
async def test_several_candidates(gemini: GeminiProvider, stream: bool) -> None:
    _, result = await collect(gemini, chat_call("gem-n", stream=stream, n=2))
    assert [c.index for c in result.choices] == [0, 1]
    assert [c.message.text for c in result.choices] == ["echo: hi there"] * 2
    assert all(c.finish_reason == FINISH_REASON_STOP for c in result.choices)


@pytest.mark.parametrize("stream", [False, True])
async def test_limits_safety_and_blocked_prompts(gemini: GeminiProvider, stream: bool) -> None:
    _, short = await collect(gemini, chat_call("gem-short", stream=stream, max_tokens=1))
    assert short.choices[0].finish_reason == FINISH_REASON_LENGTH
    assert short.choices[0].message.text == "echo: "
    for model in ("gem-safety", "gem-blocked"):
        _, filtered = await collect(gemini, chat_call(model, stream=stream))
        assert filtered.choices[0].finish_reason == FINISH_REASON_CONTENT_FILTER
        assert filtered.choices[0].message.text == ""


async def test_thinking_is_reasoning_content(gemini: GeminiProvider) -> None:
    deltas, result = await collect(gemini, chat_call("gem-thinking", stream=True))
    assert struct_to_dict(deltas[0].extras) == {"reasoning_content": "Thinking it over."}
    message = result.choices[0].message
    assert message.text == "echo: hi there"
    assert struct_to_dict(message.extras) == {"reasoning_content": "Thinking it over."}
    assert result.usage.output_tokens == 3 + 5
    assert struct_to_dict(result.usage.extras) == {
        "completion_tokens_details": {"reasoning_tokens": 5}
    }


@pytest.mark.parametrize("stream", [False, True])
async def test_errors(gemini: GeminiProvider, stream: bool) -> None:
    with pytest.raises(UpstreamRejected) as rejected:
        await collect(gemini, chat_call("fail-400", stream=stream))
    assert rejected.value.upstream_status == 400
    assert (
        rejected.value.message
        == "acct/fail-400: upstream answered HTTP 400: fake failure 400 for fail-400"
    )
    with pytest.raises(UpstreamRejected) as limited:
        await collect(gemini, chat_call("fail-429-retryafter-7", stream=stream))
    assert limited.value.upstream_status == 429
    assert limited.value.details == {"retry_after_seconds": "7"}
    with pytest.raises(UpstreamFailed, match="HTTP 500"):
        await collect(gemini, chat_call("fail-500", stream=stream))
    with pytest.raises(UpstreamFailed, match="connection failed"):
        await collect(gemini, chat_call("gem-drop", stream=stream))
    with pytest.raises(UpstreamTimeout):
        await collect(gemini, chat_call("gem-slow-4000", stream=stream))


async def test_gemini_refusals_pass_through(gemini: GeminiProvider) -> None:
    # A turn of function responses without the calls it answers: the fake refuses it as Gemini does.
    messages = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "a",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                },
                {
                    "id": "b",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "a", "content": "noon"},
    ]
    with pytest.raises(UpstreamRejected, match="number of function response parts"):
        await collect(gemini, chat_call("gem-missing-result", stream=False, messages=messages))


@pytest.mark.parametrize(
    ("model", "error", "text"),
    [
        ("gem-cut-2", UpstreamStreamCut, "stream broke off"),
        ("gem-trunc-2", UpstreamStreamCut, "ended without a finishReason"),
        ("gem-streamerror-2", UpstreamFailed, "failed mid-stream: The model is overloaded."),
    ],
)
async def test_broken_streams(
    gemini: GeminiProvider, model: str, error: type[Exception], text: str
) -> None:
    with pytest.raises(error) as caught:
        await collect(gemini, chat_call(model, stream=True))
    assert text in str(caught.value)


@pytest.mark.parametrize("stream", [False, True])
async def test_reasoning_effort_as_each_model_takes_it(
    gemini: GeminiProvider, fake_gemini: FakeGemini, stream: bool
) -> None:
    # Budget 0 would be refused: 2.5 Pro only works in thinking mode.
    _, pro = await collect(
        gemini, chat_call("gemini-2.5-pro", stream=stream, reasoning_effort="minimal")
    )
    assert pro.choices[0].finish_reason == FINISH_REASON_STOP
    sent = fake_gemini.last_request("gemini-2.5-pro").body["generationConfig"]
    assert sent == {"thinkingConfig": {"thinkingBudget": 128}}
    # A caller's level stays alone: Gemini 3 refuses a budget and a level together.
    call = chat_call(
        "gemini-3-pro-preview",
        stream=stream,
        reasoning_effort="high",
        thinking_config={"thinkingLevel": "low", "includeThoughts": True},
    )
    await collect(gemini, call)
    sent = fake_gemini.last_request("gemini-3-pro-preview").body["generationConfig"]
    assert sent == {"thinkingConfig": {"thinkingLevel": "low", "includeThoughts": True}}
    await collect(gemini, chat_call("gemini-3-pro-preview", stream=stream, reasoning_effort="none"))
    sent = fake_gemini.last_request("gemini-3-pro-preview").body["generationConfig"]
    assert sent == {"thinkingConfig": {"thinkingLevel": "LOW"}}


async def test_labels_are_left_out_as_the_gemini_api_has_none(
    gemini: GeminiProvider, fake_gemini: FakeGemini
) -> None:
    _, result = await collect(
        gemini, chat_call("gem-labels", stream=False, labels={"team": "search"})
    )
    assert result.choices[0].finish_reason == FINISH_REASON_STOP
    assert "labels" not in fake_gemini.last_request("gem-labels").body


async def test_bad_request_is_refused_before_any_call(
    gemini: GeminiProvider, fake_gemini: FakeGemini
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await collect(gemini, chat_call("gem-invalid", stream=False, logit_bias={"1": 2}))
    assert caught.value.param == "logit_bias"
    assert fake_gemini.requests_for("gem-invalid") == []


async def test_embeddings(gemini: GeminiProvider, fake_gemini: FakeGemini) -> None:
    request = EmbedRequest(
        model="g/text-embedding-004", inputs=["alpha beta", "gamma"], dimensions=4
    )
    request.extras.update({"task_type": "RETRIEVAL_QUERY", "encoding_format": "float"})
    answer = await gemini.embed(request, "text-embedding-004")
    assert [e.index for e in answer.embeddings] == [0, 1]
    assert [len(e.values) for e in answer.embeddings] == [4, 4]
    assert answer.embeddings[0].values != answer.embeddings[1].values
    assert answer.usage.input_tokens == answer.usage.total_tokens > 0
    sent = fake_gemini.last_request("text-embedding-004")
    assert sent.path == "/v1beta/models/text-embedding-004:batchEmbedContents"
    assert sent.body["requests"][0] == {
        "model": "models/text-embedding-004",
        "content": {"parts": [{"text": "alpha beta"}]},
        "outputDimensionality": 4,
        "taskType": "RETRIEVAL_QUERY",
    }
    tokens = EmbedRequest(model="g/e", inputs=[])
    tokens.extras.update({"input": [[1, 2]]})
    with pytest.raises(InvalidRequest):
        await gemini.embed(tokens, "e")


async def test_embeddings_go_in_batches_of_100_in_order(
    gemini: GeminiProvider, fake_gemini: FakeGemini
) -> None:
    texts = [f"text number {i}" for i in range(250)]
    answer = await gemini.embed(EmbedRequest(model="g/emb-many", inputs=texts), "emb-many")
    sizes = sorted(len(r.body["requests"]) for r in fake_gemini.requests_for("emb-many"))
    assert sizes == [50, 100, 100]
    assert [e.index for e in answer.embeddings] == list(range(250))
    assert [list(e.values) for e in answer.embeddings] == [
        pytest.approx(fake_vector(text, 8)) for text in texts
    ]
    # No usage in the answers: each batch is estimated, and the estimates add up.
    assert answer.usage.input_tokens == sum(len(text) // 4 + 1 for text in texts)
