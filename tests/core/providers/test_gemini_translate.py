"""The Gemini translation on its own: request body, whole answers, stream chunks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from codec import chat_params_from_json, struct_to_dict
from core.errors import InvalidRequest
from core.providers.gemini_request import SKIP_SIGNATURE, generate_body
from core.providers.gemini_response import GeminiAnswer, result_from_answer
from gateway.v1.chat_pb2 import (
    FINISH_REASON_CONTENT_FILTER,
    FINISH_REASON_LENGTH,
    FINISH_REASON_STOP,
    FINISH_REASON_TOOL_CALLS,
    FINISH_REASON_UNSPECIFIED,
)
from tests.core.providers.support import WEATHER_TOOLS
from tests.core.providers.test_anthropic_translate import CONVERSATION


def _body(model: str = "gemini-3-flash", **request: Any) -> dict[str, Any]:
    data = {"model": f"g/{model}", "messages": [{"role": "user", "content": "hi"}], **request}
    return generate_body(chat_params_from_json(data), model)


def test_minimal_request() -> None:
    assert _body() == {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    # Stream flags are the gateway's business, not Gemini's.
    assert _body(stream=True, stream_options={"include_usage": True}, store=False) == _body()


def test_system_and_developer_messages_become_the_system_instruction() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Be kind."}]},
        {"role": "user", "content": "hi"},
    ]
    body = _body(messages=messages)
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}, {"text": "Be kind."}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]


def test_images() -> None:
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "image_url", "image_url": {"url": "gs://bucket/dog.png"}},
    ]
    parts = _body(messages=[{"role": "user", "content": content}])["contents"][0]["parts"]
    assert parts == [
        {"text": "What is this?"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0K"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpg"}},
        {"fileData": {"mimeType": "image/png", "fileUri": "gs://bucket/dog.png"}},
    ]


@pytest.mark.parametrize(
    "url", ["data:image/png,raw", "https://example.com/image", "ftp://example.com/a.png"]
)
def test_unusable_image_urls_are_refused(url: str) -> None:
    content = [{"type": "image_url", "image_url": {"url": url}}]
    with pytest.raises(InvalidRequest) as caught:
        _body(messages=[{"role": "user", "content": content}])
    assert caught.value.param == "messages[0].content[0].image_url.url"


def test_tool_calls_and_results_both_ways() -> None:
    body = _body(messages=CONVERSATION)
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Weather and time in Paris?"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Let me look."},
                {
                    "functionCall": {
                        "name": "get_weather",
                        "args": {"city": "Paris"},
                        "id": "call_a",
                    },
                    "thoughtSignature": SKIP_SIGNATURE,
                },
                {"functionCall": {"name": "get_time", "args": {}, "id": "call_b"}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "get_weather",
                        "response": {"output": "sunny"},
                        "id": "call_a",
                    }
                },
                {
                    "functionResponse": {
                        "name": "get_time",
                        "response": {"output": "noon"},
                        "id": "call_b",
                    }
                },
            ],
        },
        {"role": "user", "parts": [{"text": "Thanks"}]},
    ]


def test_thought_signatures_go_back_with_their_calls() -> None:
    signed = json.loads(json.dumps(CONVERSATION[:2]))
    signed[1]["tool_calls"][0]["extra_content"] = {"google": {"thought_signature": "c2ln"}}
    for model in ("gemini-2.5-flash", "gemini-3-pro"):
        parts = _body(model, messages=signed)["contents"][1]["parts"]
        assert [p.get("thoughtSignature") for p in parts] == [None, "c2ln", None]
    # No signature kept: Gemini 3 gets Google's stand-in, older models nothing.
    parts = _body("gemini-2.5-flash", messages=CONVERSATION[:2])["contents"][1]["parts"]
    assert all("thoughtSignature" not in p for p in parts)


def test_a_tool_result_must_answer_a_known_call() -> None:
    with pytest.raises(InvalidRequest) as caught:
        _body(
            messages=[
                {"role": "user", "content": "x"},
                {"role": "tool", "tool_call_id": "nope", "content": "x"},
            ]
        )
    assert caught.value.param == "messages[1].tool_call_id"
    with pytest.raises(InvalidRequest, match="tool_call_id is required"):
        _body(messages=[{"role": "tool", "content": "x"}])


def test_invalid_tool_arguments_name_the_message() -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}
            ],
        },
    ]
    with pytest.raises(InvalidRequest) as caught:
        _body(messages=messages)
    assert caught.value.param == "messages[1].tool_calls[0].function.arguments"


def test_tools_and_tool_choice() -> None:
    body = _body(tools=WEATHER_TOOLS)
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather in a city",
                    "parametersJsonSchema": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                    },
                },
                {"name": "get_time", "parametersJsonSchema": {"type": "object", "properties": {}}},
            ]
        }
    ]
    assert "toolConfig" not in body
    for openai_choice, mode in {"auto": "AUTO", "required": "ANY", "none": "NONE"}.items():
        assert _body(tools=WEATHER_TOOLS, tool_choice=openai_choice)["toolConfig"] == {
            "functionCallingConfig": {"mode": mode}
        }
    named = {"type": "function", "function": {"name": "get_time"}}
    assert _body(tools=WEATHER_TOOLS, tool_choice=named)["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_time"]}
    }
    assert "toolConfig" not in _body(tools=WEATHER_TOOLS, parallel_tool_calls=True)


def test_sampling_and_formats() -> None:
    body = _body(
        max_tokens=100,
        max_completion_tokens=50,
        stop=["END"],
        temperature=0.5,
        top_p=0.9,
        n=2,
        seed=3,
        presence_penalty=0.1,
        frequency_penalty=0.2,
        top_k=5,
        response_format={"type": "json_object"},
        reasoning_effort="low",
        safety_settings=[{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    )
    assert body["generationConfig"] == {
        "temperature": 0.5,
        "topP": 0.9,
        "maxOutputTokens": 50,
        "stopSequences": ["END"],
        "candidateCount": 2,
        "seed": 3,
        "presencePenalty": 0.1,
        "frequencyPenalty": 0.2,
        "topK": 5,
        "responseMimeType": "application/json",
        "thinkingConfig": {"thinkingLevel": "LOW"},
    }
    assert body["safetySettings"] == [
        {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}
    ]
    assert _body(stop="DONE")["generationConfig"] == {"stopSequences": ["DONE"]}
    assert _body(temperature=None) == _body()  # null is unset, as OpenAI reads it


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # Gemini 3 thinks by level, LOW or HIGH (all its models take those two).
        ("gemini-3-pro-preview", ["LOW", "LOW", "LOW", "HIGH", "HIGH"]),
        ("gemini-3-flash", ["LOW", "LOW", "LOW", "HIGH", "HIGH"]),
        # 2.5 by budget; Pro cannot stop thinking, so its least is 128, never 0.
        ("gemini-2.5-pro", [128, 128, 1024, 8192, 24576]),
        ("gemini-2.5-pro-preview-06-05", [128, 128, 1024, 8192, 24576]),
        ("gemini-2.5-flash", [0, 0, 1024, 8192, 24576]),
        ("gemini-2.5-flash-lite", [0, 0, 1024, 8192, 24576]),
    ],
)
def test_reasoning_effort_is_a_level_or_a_budget_never_both(
    model: str, expected: list[Any]
) -> None:
    knob = "thinkingLevel" if "gemini-3" in model else "thinkingBudget"
    for effort, value in zip(["none", "minimal", "low", "medium", "high"], expected, strict=True):
        config = _body(model, reasoning_effort=effort)["generationConfig"]
        assert config == {"thinkingConfig": {knob: value}}, effort


@pytest.mark.parametrize("knob", ["thinkingLevel", "thinking_level", "thinkingBudget"])
def test_a_thinking_config_that_says_how_much_wins_over_reasoning_effort(knob: str) -> None:
    value = 512 if "Budget" in knob else "low"
    for extras in (
        {"thinking_config": {knob: value}},
        {"generation_config": {"thinkingConfig": {knob: value}}},
    ):
        # Either order: the knob the caller set is the only one sent.
        for body in (
            _body(reasoning_effort="high", **extras),
            _body(**extras, reasoning_effort="high"),
        ):
            assert body["generationConfig"] == {"thinkingConfig": {knob: value}}
    # A config that only asks for thought summaries gets the effort added.
    body = _body(reasoning_effort="high", thinking_config={"includeThoughts": True})
    assert body["generationConfig"]["thinkingConfig"] == {
        "includeThoughts": True,
        "thinkingLevel": "HIGH",
    }


def test_labels_go_to_vertex_only_made_valid() -> None:
    labels = {
        "team": "search",
        "Cost Center": "R&D 42",
        "équipe": "Données",
        "x" * 70: "y" * 70,
        "9lives": "dropped: a key starts with a letter",
        "_private": "dropped too",
        "count": 7,
        "ratio": 1.5,
        "beta": True,
        "nested": {"dropped": "not a label value"},
        "TEAM": "dropped: the same key as `team` once cleaned",
        "empty": "",
    }
    params = chat_params_from_json(
        {
            "model": "v/gemini-2.5-flash",
            "messages": [{"role": "user", "content": "hi"}],
            "labels": labels,
        }
    )
    assert "labels" not in generate_body(params, "gemini-2.5-flash")
    assert generate_body(params, "gemini-2.5-flash", vertex=True)["labels"] == {
        "team": "search",
        "cost_center": "r_d_42",
        "équipe": "données",
        "x" * 63: "y" * 63,
        "count": "7",
        "ratio": "1_5",
        "beta": "true",
        "empty": "",
    }
    many = {f"k{i:03}": "v" for i in range(100)}
    sent = generate_body(
        chat_params_from_json(
            {"model": "v/m", "messages": [{"role": "user", "content": "hi"}], "labels": many}
        ),
        "m",
        vertex=True,
    )["labels"]
    assert sorted(sent) == [f"k{i:03}" for i in range(64)]
    with pytest.raises(InvalidRequest) as caught:
        generate_body(
            chat_params_from_json(
                {"model": "v/m", "messages": [{"role": "user", "content": "hi"}], "labels": "x"}
            ),
            "m",
            vertex=True,
        )
    assert caught.value.param == "labels"


@pytest.mark.parametrize(
    ("request_fields", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"logit_bias": {"1": 2}}, "logit_bias"),
        ({"modalities": ["audio"]}, "modalities"),
        ({"tools": WEATHER_TOOLS, "parallel_tool_calls": False}, "parallel_tool_calls"),
        ({"tool_choice": "auto"}, "tool_choice"),
        ({"response_format": {"type": "grammar"}}, "response_format.type"),
        ({"tools": [{"type": "web_search", "web_search": {}}]}, "tools[0].type"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
    ],
)
def test_what_gemini_cannot_do_is_refused_naming_the_parameter(
    request_fields: dict[str, Any], param: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        _body(**request_fields)
    assert caught.value.param == param


def test_whole_answer() -> None:
    answer = {
        "responseId": "r1",
        "modelVersion": "gemini-2.5-flash",
        "candidates": [
            {
                "index": 0,
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "hmm", "thought": True},
                        {"text": "Checking."},
                        {
                            "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                            "thoughtSignature": "c2ln",
                        },
                        {"functionCall": {"id": "g-2", "name": "get_time"}},
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 5,
            "thoughtsTokenCount": 7,
            "cachedContentTokenCount": 4,
            "totalTokenCount": 22,
        },
    }
    result = result_from_answer(answer, make_id=lambda: "made-up")
    choice = result.choices[0]
    assert (result.id, result.model) == ("r1", "gemini-2.5-flash")
    assert choice.message.text == "Checking."
    assert struct_to_dict(choice.message.extras) == {"reasoning_content": "hmm"}
    calls = choice.message.tool_calls
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("made-up", "get_weather", '{"city":"Paris"}'),
        ("g-2", "get_time", "{}"),
    ]
    assert struct_to_dict(calls[0].extras) == {
        "extra_content": {"google": {"thought_signature": "c2ln"}}
    }
    assert choice.finish_reason == FINISH_REASON_TOOL_CALLS
    usage = result.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (10, 12, 22)
    assert struct_to_dict(usage.extras) == {
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 7},
    }


@pytest.mark.parametrize(
    ("reason", "expected", "raw"),
    [
        ("STOP", FINISH_REASON_STOP, None),
        ("MAX_TOKENS", FINISH_REASON_LENGTH, None),
        ("SAFETY", FINISH_REASON_CONTENT_FILTER, None),
        ("RECITATION", FINISH_REASON_CONTENT_FILTER, None),
        ("PROHIBITED_CONTENT", FINISH_REASON_CONTENT_FILTER, None),
        ("BLOCKLIST", FINISH_REASON_CONTENT_FILTER, None),
        ("SPII", FINISH_REASON_CONTENT_FILTER, None),
        ("MALFORMED_FUNCTION_CALL", FINISH_REASON_UNSPECIFIED, "malformed_function_call"),
        ("OTHER", FINISH_REASON_UNSPECIFIED, "other"),
    ],
)
def test_finish_reasons(reason: str, expected: int, raw: str | None) -> None:
    answer = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": reason}]}
    choice = result_from_answer(answer).choices[0]
    assert choice.finish_reason == expected
    assert struct_to_dict(choice.extras).get("finish_reason") == raw


def test_blocked_prompt_is_content_filter() -> None:
    answer = {
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 3},
    }
    result = result_from_answer(answer)
    assert result.choices[0].finish_reason == FINISH_REASON_CONTENT_FILTER
    assert result.usage.input_tokens == 3


def test_stream_chunks() -> None:
    reader = GeminiAnswer(make_id=iter(["id-a", "id-b"]).__next__)
    chunks: list[dict[str, Any]] = [
        {
            "candidates": [{"content": {"parts": [{"text": "Hi"}]}}],
            "usageMetadata": {"promptTokenCount": 9},
        },
        {
            "candidates": [
                {
                    "content": {
                        "parts": [
                            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                            {"functionCall": {"name": "get_time", "args": {}}},
                        ]
                    }
                }
            ]
        },
    ]
    deltas = [d for chunk in chunks for d in reader.feed(chunk)]
    assert not reader.finished
    reader.feed(
        {
            "candidates": [{"content": {"parts": [{"text": ""}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 20},
        }
    )
    assert reader.finished
    assert deltas[0].role
    assert deltas[0].content == "Hi"
    assert [(t.index, t.id, t.name, t.arguments) for d in deltas for t in d.tool_calls] == [
        (0, "id-a", "get_weather", '{"city":"Paris"}'),
        (1, "id-b", "get_time", "{}"),
    ]
    result = reader.result()
    assert result.choices[0].finish_reason == FINISH_REASON_TOOL_CALLS
    assert (result.usage.input_tokens, result.usage.output_tokens) == (9, 20)


# -- properties -----------------------------------------------------------------------------

_names = st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_arguments = st.dictionaries(st.text(min_size=1, max_size=8), _json_values, max_size=4)
_calls = st.lists(
    st.tuples(_names, _arguments, st.none() | st.text(min_size=1, max_size=12)), max_size=4
)
_texts = st.lists(st.text(max_size=30), max_size=4)


@settings(max_examples=60, deadline=None)
@given(
    texts=_texts, calls=_calls, counts=st.tuples(*[st.integers(0, 10**6)] * 4), split=st.booleans()
)
def test_answers_keep_order_ids_arguments_and_usage(
    texts: list[str],
    calls: list[tuple[str, dict[str, Any], str | None]],
    counts: tuple[int, ...],
    split: bool,
) -> None:
    parts: list[dict[str, Any]] = [{"text": text} for text in texts]
    for name, args, call_id in calls:
        call: dict[str, Any] = {"name": name, "args": args}
        if call_id is not None:
            call["id"] = call_id
        parts.append({"functionCall": call})
    prompt, candidates, thoughts, cached = counts
    usage = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "thoughtsTokenCount": thoughts,
        "cachedContentTokenCount": cached,
    }
    made = iter(f"made-{i}" for i in range(10))
    reader = GeminiAnswer(make_id=made.__next__)
    # Whole, or one part per chunk as a stream sends them: the same answer either way.
    pieces = [[part] for part in parts] if split else [parts]
    for piece in pieces:
        reader.feed({"candidates": [{"content": {"role": "model", "parts": piece}}]})
    reader.feed({"candidates": [{"finishReason": "STOP"}], "usageMetadata": usage})
    result = reader.result()
    message = result.choices[0].message
    if texts:
        assert message.text == "".join(texts)
    expected_ids = []
    made_count = 0
    for _, _, call_id in calls:
        if call_id is None:
            expected_ids.append(f"made-{made_count}")
            made_count += 1
        else:
            expected_ids.append(call_id)
    assert [c.id for c in message.tool_calls] == expected_ids
    assert [c.function.name for c in message.tool_calls] == [name for name, _, _ in calls]
    assert [json.loads(c.function.arguments) for c in message.tool_calls] == [
        a for _, a, _ in calls
    ]
    expected = FINISH_REASON_TOOL_CALLS if calls else FINISH_REASON_STOP
    assert result.choices[0].finish_reason == expected
    assert (result.usage.input_tokens, result.usage.output_tokens) == (
        prompt,
        candidates + thoughts,
    )
    assert result.usage.total_tokens == prompt + candidates + thoughts
    if cached:
        assert struct_to_dict(result.usage.extras)["prompt_tokens_details"] == {
            "cached_tokens": cached
        }


@settings(max_examples=60, deadline=None)
@given(calls=st.lists(st.tuples(_names, _arguments), min_size=1, max_size=4), ids=st.booleans())
def test_tool_calls_survive_the_trip_back_to_gemini(
    calls: list[tuple[str, dict[str, Any]]], ids: bool
) -> None:
    # An answer's calls, sent back by an OpenAI client with results: each result is matched
    # to its call's function by id, arguments come back as Gemini sent them, in order.
    parts = [
        {"functionCall": {"name": name, "args": args, **({"id": f"g{i}"} if ids else {})}}
        for i, (name, args) in enumerate(calls)
    ]
    result = result_from_answer(
        {"candidates": [{"content": {"parts": parts}, "finishReason": "STOP"}]}
    )
    tool_calls = result.choices[0].message.tool_calls
    assistant = {
        "role": "assistant",
        "tool_calls": [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.function.name, "arguments": c.function.arguments},
            }
            for c in tool_calls
        ],
    }
    results = [
        {"role": "tool", "tool_call_id": c.id, "content": f"result {i}"}
        for i, c in enumerate(tool_calls)
    ]
    body = _body(messages=[{"role": "user", "content": "go"}, assistant, *results])
    model_turn, results_turn = body["contents"][1:]
    assert [p["functionCall"]["name"] for p in model_turn["parts"]] == [name for name, _ in calls]
    assert [p["functionCall"]["args"] for p in model_turn["parts"]] == [args for _, args in calls]
    responses = [p["functionResponse"] for p in results_turn["parts"]]
    assert [r["name"] for r in responses] == [name for name, _ in calls]
    assert [r["response"] for r in responses] == [
        {"output": f"result {i}"} for i in range(len(calls))
    ]
    if ids:
        assert [r["id"] for r in responses] == [f"g{i}" for i in range(len(calls))]
    else:
        assert all("id" not in r for r in responses)
