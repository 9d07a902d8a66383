"""The Bedrock translation on its own: Converse request bodies, whole answers, stream events
(from the fake's own event encoder), and the properties that must survive both ways."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from codec import chat_params_from_json, struct_to_dict
from core.errors import InvalidRequest
from core.providers.bedrock_request import EMPTY_TOOL_RESULT, converse_body
from core.providers.bedrock_response import ConverseStream, result_from_converse
from core.providers.bedrock_tools import STUB_DESCRIPTION
from gateway.v1.chat_pb2 import (
    FINISH_REASON_CONTENT_FILTER,
    FINISH_REASON_LENGTH,
    FINISH_REASON_STOP,
    FINISH_REASON_TOOL_CALLS,
    ChatResult,
)
from tests.core.providers.support import WEATHER_TOOLS
from tests.fakes.bedrock_wire import converse_problem, stream_events

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20).decode()


def _body(**request: Any) -> dict[str, Any]:
    data = {"model": "a/m", "messages": [{"role": "user", "content": "hi"}], **request}
    body = converse_body(chat_params_from_json(data))
    # Every body built must be one real Converse takes (the fake knows its rules).
    assert converse_problem(body) is None
    return body


def _refused(**request: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        _body(**request)
    return caught.value


def test_minimal_request() -> None:
    assert _body() == {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}


def test_sampling_parameters_go_to_inference_config() -> None:
    body = _body(max_tokens=50, max_completion_tokens=70, temperature=0.2, top_p=0.9, stop="END")
    assert body["inferenceConfig"] == {
        "maxTokens": 70,
        "temperature": 0.2,
        "topP": 0.9,
        "stopSequences": ["END"],
    }
    assert _body(stop=["a", "b"])["inferenceConfig"] == {"stopSequences": ["a", "b"]}


def test_system_developer_and_user_tag() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Be kind."}]},
        {"role": "user", "content": "hi"},
    ]
    body = _body(messages=messages, user="u-42")
    assert body["system"] == [{"text": "Be brief."}, {"text": "Be kind."}]
    assert body["messages"] == [{"role": "user", "content": [{"text": "hi"}]}]
    assert body["requestMetadata"] == {"user": "u-42"}


def test_images_travel_as_base64_bytes_and_cache_control_becomes_a_cache_point() -> None:
    content = [
        {"type": "text", "text": "Look:", "cache_control": {"type": "ephemeral"}},
        {
            "type": "image_url",
            "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "high"},
        },
    ]
    body = _body(messages=[{"role": "user", "content": content}])
    assert body["messages"][0]["content"] == [
        {"text": "Look:"},
        {"cachePoint": {"type": "default"}},
        {"image": {"format": "png", "source": {"bytes": PNG}}},
    ]


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("https://example.com/cat.png", "only as data: URLs"),
        ("data:image/png,abc", "must be data:image/"),
        ("data:image/tiff;base64,AAAA", "must be data:image/"),
        ("data:image/png;base64,not base64!", "not valid base64"),
    ],
)
def test_images_bedrock_cannot_take_are_refused(url: str, said: str) -> None:
    content = [{"type": "image_url", "image_url": {"url": url}}]
    error = _refused(messages=[{"role": "user", "content": content}])
    assert said in error.message
    assert error.param == "messages[0].content[0].image_url.url"


def test_tools_choices_and_a_round_trip() -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "t1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                },
                {"id": "t2", "type": "function", "function": {"name": "get_time", "arguments": ""}},
            ],
        },
        {"role": "tool", "tool_call_id": "t1", "content": "rain"},
        {"role": "tool", "tool_call_id": "t2", "content": [{"type": "text", "text": "noon"}]},
        {"role": "user", "content": "thanks"},
    ]
    body = _body(messages=messages, tools=WEATHER_TOOLS, tool_choice="required")
    assert body["messages"] == [
        {"role": "user", "content": [{"text": "weather?"}]},
        {
            "role": "assistant",
            "content": [
                {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Oslo"}}},
                {"toolUse": {"toolUseId": "t2", "name": "get_time", "input": {}}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "t1", "content": [{"text": "rain"}]}},
                {"toolResult": {"toolUseId": "t2", "content": [{"text": "noon"}]}},
                {"text": "thanks"},
            ],
        },
    ]
    tools = body["toolConfig"]["tools"]
    assert tools[0] == {
        "toolSpec": {
            "name": "get_weather",
            "description": "Weather in a city",
            "inputSchema": {"json": WEATHER_TOOLS[0]["function"]["parameters"]},
        }
    }
    assert body["toolConfig"]["toolChoice"] == {"any": {}}
    assert _body(tools=WEATHER_TOOLS, tool_choice="auto")["toolConfig"]["toolChoice"] == {
        "auto": {}
    }
    named = {"type": "function", "function": {"name": "get_time"}}
    assert _body(tools=WEATHER_TOOLS, tool_choice=named)["toolConfig"]["toolChoice"] == {
        "tool": {"name": "get_time"}
    }
    assert "toolConfig" not in _body(tools=WEATHER_TOOLS, tool_choice="none")


_TOOL_HISTORY = [
    {"role": "user", "content": "weather?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
            {"id": "t2", "type": "function", "function": {"name": "get_time", "arguments": ""}},
            {"id": "t3", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
        ],
    },
    {"role": "tool", "tool_call_id": "t1", "content": "rain"},
    {"role": "tool", "tool_call_id": "t2", "content": "noon"},
    {"role": "tool", "tool_call_id": "t3", "content": "sun"},
    {"role": "user", "content": "Sum it up."},
]


def _stub(name: str) -> dict[str, Any]:
    return {
        "toolSpec": {
            "name": name,
            "description": STUB_DESCRIPTION,
            "inputSchema": {"json": {"type": "object"}},
        }
    }


@pytest.mark.parametrize(
    "request_fields",
    [{}, {"tool_choice": "none"}, {"tool_choice": "none", "tools": WEATHER_TOOLS}],
    ids=["no-tools", "choice-none", "tools-and-choice-none"],
)
def test_a_tool_history_without_usable_tools_declares_stubs(
    request_fields: dict[str, Any],
) -> None:
    # Converse refuses toolUse/toolResult blocks unless toolConfig is defined; with "none"
    # the caller's own tools stay out, so only the stubs (saying not to call them) are there.
    body = _body(messages=_TOOL_HISTORY, **request_fields)
    assert body["toolConfig"] == {"tools": [_stub("get_weather"), _stub("get_time")]}


def test_blank_text_is_never_sent_and_empty_turns_are_dropped() -> None:
    messages = [
        {"role": "system", "content": " "},
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "text", "text": " \n\t", "cache_control": {"type": "ephemeral"}},
            ],
        },
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "  "},
        {"role": "user", "content": "again"},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "\n"}],
            "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "t1", "content": ""},
        {"role": "assistant", "content": "   "},
        {"role": "tool", "tool_call_id": "t1", "content": [{"type": "text", "text": " "}]},
    ]
    body = _body(messages=messages, tools=WEATHER_TOOLS)
    assert body["system"] == [{"text": "Be brief."}]
    empty = [{"text": EMPTY_TOOL_RESULT}]
    assert body["messages"] == [
        {
            "role": "user",
            # The blank part's cache point stays where it was; the empty assistant turn
            # between the two user turns is gone, and they merge.
            "content": [{"text": "look"}, {"cachePoint": {"type": "default"}}, {"text": "again"}],
        },
        {
            "role": "assistant",
            "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "t1", "content": empty}},
                {"toolResult": {"toolUseId": "t1", "content": empty}},
            ],
        },
    ]


def test_a_conversation_of_blank_text_is_refused_by_name() -> None:
    error = _refused(
        messages=[{"role": "system", "content": "x"}, {"role": "user", "content": " "}]
    )
    assert error.param == "messages"
    assert "blank text is not sent" in error.message


def test_the_user_tag_is_made_fit_for_request_metadata() -> None:
    user = "Zoë <zoe@example.com>; " + "x" * 300
    tag = _body(user=user)["requestMetadata"]["user"]
    assert tag.startswith("Zo_ _zoe@example.com__ xxx")
    assert len(tag) == 256
    # The caller's own tags come first; there is room for 16 in all.
    own = {f"k{i}": f"v {i}" for i in range(15)}
    assert _body(user="u", requestMetadata=own)["requestMetadata"] == {**own, "user": "u"}
    full = {f"k{i}": "v" for i in range(16)}
    assert _body(user="u", requestMetadata=full)["requestMetadata"] == full
    assert _body(user="u", requestMetadata={"user": "mine"})["requestMetadata"] == {"user": "mine"}


@pytest.mark.parametrize(
    ("metadata", "param"),
    [
        ({"team": "café"}, "requestMetadata.team"),
        ({"": "x"}, "requestMetadata."),
        ({"n": 1}, "requestMetadata.n"),
        ({"long": "x" * 257}, "requestMetadata.long"),
        ({f"k{i}": "v" for i in range(17)}, "requestMetadata"),
        (["a"], "requestMetadata"),
    ],
)
def test_request_metadata_bedrock_would_refuse_is_refused_by_name(
    metadata: Any, param: str
) -> None:
    assert _refused(requestMetadata=metadata).param == param


def test_json_schema_uses_converse_structured_output() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "count", "description": "A count", "schema": schema},
    }
    body = _body(response_format=response_format)
    definition = body["outputConfig"]["textFormat"]["structure"]["jsonSchema"]
    assert body["outputConfig"]["textFormat"]["type"] == "json_schema"
    assert json.loads(definition["schema"]) == schema
    assert (definition["name"], definition["description"]) == ("count", "A count")
    assert "outputConfig" not in _body(response_format={"type": "text"})


def test_converse_fields_pass_and_nulls_mean_unset() -> None:
    guardrail = {"guardrailIdentifier": "g1", "guardrailVersion": "1"}
    body = _body(
        guardrailConfig=guardrail,
        additionalModelRequestFields={"top_k": 5},
        temperature=None,
        stream_options={"include_usage": True},
    )
    assert body["guardrailConfig"] == guardrail
    assert body["additionalModelRequestFields"] == {"top_k": 5}
    assert "inferenceConfig" not in body


def test_echoed_assistant_fields_are_accepted() -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello", "refusal": None, "annotations": []},
        {"role": "user", "content": "again"},
    ]
    assert len(_body(messages=messages)["messages"]) == 3


@pytest.mark.parametrize(
    ("request_fields", "param"),
    [
        ({"n": 2}, "n"),
        ({"seed": 1}, "seed"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"frequency_penalty": 0.5}, "frequency_penalty"),
        ({"parallel_tool_calls": False, "tools": WEATHER_TOOLS}, "parallel_tool_calls"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"logprobs": True}, "logprobs"),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"tool_choice": "auto"}, "tool_choice"),
        ({"messages": [{"role": "user", "content": "hi", "name": "bob"}]}, "messages[0].name"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}
                ]
            },
            "messages[0].content[0]",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "x",
                                "type": "function",
                                "function": {"name": "f", "arguments": "[1]"},
                            }
                        ],
                    },
                ],
                "tools": WEATHER_TOOLS,
            },
            "messages[1].tool_calls[0].function.arguments",
        ),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
    ],
)
def test_what_converse_cannot_express_is_refused_by_name(
    request_fields: dict[str, Any], param: str
) -> None:
    error = _refused(**request_fields)
    assert error.param == param
    assert error.http_status == 400


def test_whole_answer() -> None:
    answer = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "thinking", "signature": "s"}}},
                    {"text": "Let me check."},
                    {
                        "toolUse": {
                            "toolUseId": "tooluse_a",
                            "name": "get_weather",
                            "input": {"city": "Oslo"},
                        }
                    },
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {
            "inputTokens": 10,
            "outputTokens": 5,
            "totalTokens": 19,
            "cacheReadInputTokens": 4,
        },
    }
    result = result_from_converse(answer)
    choice = result.choices[0]
    assert choice.message.text == "Let me check."
    assert choice.finish_reason == FINISH_REASON_TOOL_CALLS
    call = choice.message.tool_calls[0]
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "tooluse_a",
        "get_weather",
        {"city": "Oslo"},
    )
    assert struct_to_dict(choice.message.extras) == {"reasoning_content": "thinking"}
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens) == (
        10,
        5,
        15,
    )
    assert struct_to_dict(result.usage.extras) == {"cache_read_input_tokens": 4}


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", FINISH_REASON_STOP),
        ("stop_sequence", FINISH_REASON_STOP),
        ("max_tokens", FINISH_REASON_LENGTH),
        ("tool_use", FINISH_REASON_TOOL_CALLS),
        ("guardrail_intervened", FINISH_REASON_CONTENT_FILTER),
        ("content_filtered", FINISH_REASON_CONTENT_FILTER),
    ],
)
def test_stop_reasons(stop_reason: str, finish: int) -> None:
    answer = {"output": {"message": {"content": [{"text": "x"}]}}, "stopReason": stop_reason}
    assert result_from_converse(answer).choices[0].finish_reason == finish


def test_an_unknown_stop_reason_is_kept_raw() -> None:
    answer = {"output": {"message": {"content": []}}, "stopReason": "malformed_tool_use"}
    choice = result_from_converse(answer).choices[0]
    assert struct_to_dict(choice.extras) == {"finish_reason": "malformed_tool_use"}


def _streamed(answer: dict[str, Any]) -> ChatResult:
    stream = ConverseStream()
    for kind, event in stream_events(answer):
        stream.feed(kind, event)
    assert stream.stopped
    assert stream.done
    return stream.result()


def test_a_tool_call_without_arguments_streams_an_empty_object() -> None:
    stream = ConverseStream()
    start = {"toolUse": {"toolUseId": "t", "name": "get_time"}}
    first = stream.feed("contentBlockStart", {"contentBlockIndex": 0, "start": start})
    last = stream.feed("contentBlockStop", {"contentBlockIndex": 0})
    assert first is not None
    assert first.tool_calls[0].id == "t"
    assert last is not None
    assert last.tool_calls[0].arguments == "{}"


# -- properties -----------------------------------------------------------------------------

_names = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_-]{0,20}", fullmatch=True)
_ids = st.from_regex(r"[a-zA-Z0-9_-]{1,30}", fullmatch=True)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_arguments = st.dictionaries(st.text(max_size=8), _json_values, max_size=4)
_blocks = st.lists(
    st.one_of(
        st.text(min_size=1, max_size=20).map(lambda text: {"text": text}),
        st.tuples(_ids, _names, _arguments).map(
            lambda t: {"toolUse": {"toolUseId": t[0], "name": t[1], "input": t[2]}}
        ),
    ),
    max_size=6,
).filter(
    # Ids are unique within one answer, as Bedrock makes them.
    lambda blocks: (
        len({b["toolUse"]["toolUseId"] for b in blocks if "toolUse" in b})
        == sum("toolUse" in b for b in blocks)
    )
)
_counts = st.integers(0, 10**7)


@settings(max_examples=200, deadline=None)
@given(_blocks, _counts, _counts, st.none() | _counts, st.booleans())
def test_answers_survive_whole_and_streamed(
    blocks: list[dict[str, Any]],
    input_tokens: int,
    output_tokens: int,
    cached: int | None,
    stream: bool,
) -> None:
    usage: dict[str, Any] = {
        "inputTokens": input_tokens,
        "outputTokens": output_tokens,
        "totalTokens": input_tokens + output_tokens,
    }
    if cached is not None:
        usage["cacheReadInputTokens"] = cached
    answer = {
        "output": {"message": {"role": "assistant", "content": blocks}},
        "stopReason": "tool_use",
        "usage": usage,
        "metrics": {"latencyMs": 1},
    }
    result = _streamed(answer) if stream else result_from_converse(answer)
    message = result.choices[0].message
    texts = [b["text"] for b in blocks if "text" in b]
    uses = [b["toolUse"] for b in blocks if "toolUse" in b]
    assert (message.text if texts else "") == "".join(texts)
    assert [c.id for c in message.tool_calls] == [u["toolUseId"] for u in uses]
    assert [c.function.name for c in message.tool_calls] == [u["name"] for u in uses]
    assert [json.loads(c.function.arguments) for c in message.tool_calls] == [
        u["input"] for u in uses
    ]
    assert (result.usage.input_tokens, result.usage.output_tokens) == (input_tokens, output_tokens)
    extras = struct_to_dict(result.usage.extras)
    assert extras.get("cache_read_input_tokens") == cached


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(_ids, _names, _arguments), min_size=1, max_size=4, unique_by=lambda t: t[0])
)
def test_tool_calls_survive_a_round_trip_through_converse(
    calls: list[tuple[str, str, dict[str, Any]]],
) -> None:
    # An answer's calls, sent back in the next request, reach Bedrock as the same toolUse
    # blocks, and each result names its call.
    answer = {
        "output": {
            "message": {
                "content": [
                    {"toolUse": {"toolUseId": i, "name": n, "input": a}} for i, n, a in calls
                ]
            }
        },
        "stopReason": "tool_use",
    }
    result = result_from_converse(answer)
    assistant = {
        "role": "assistant",
        "tool_calls": [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.function.name, "arguments": c.function.arguments},
            }
            for c in result.choices[0].message.tool_calls
        ],
    }
    results = [
        {"role": "tool", "tool_call_id": i, "content": f"r{n}"} for n, (i, _, _) in enumerate(calls)
    ]
    body = _body(
        messages=[{"role": "user", "content": "go"}, assistant, *results], tools=WEATHER_TOOLS
    )
    assert body["messages"][1]["content"] == answer["output"]["message"]["content"]  # type: ignore[index]
    assert [b["toolResult"]["toolUseId"] for b in body["messages"][2]["content"]] == [
        i for i, _, _ in calls
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(min_size=1, max_size=10).map(lambda t: {"type": "text", "text": t}),
            st.just({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}),
        ),
        min_size=1,
        max_size=6,
    ).filter(lambda parts: any(p["type"] != "text" or p["text"].strip() for p in parts))
)
def test_content_order_survives_the_request(parts: list[dict[str, Any]]) -> None:
    body = _body(messages=[{"role": "user", "content": parts}])
    sent = body["messages"][0]["content"]
    kept = [p for p in parts if p["type"] != "text" or p["text"].strip()]  # blank: dropped
    assert [("text" if "text" in b else "image") for b in sent] == [
        ("text" if p["type"] == "text" else "image") for p in kept
    ]
    assert [b["text"] for b in sent if "text" in b] == [
        p["text"] for p in kept if p["type"] == "text"
    ]


_texts = st.sampled_from(["", " ", "\n\t", "ok", " padded "])
_turn = st.tuples(
    _texts,  # the user's text
    _texts,  # the assistant's text
    st.lists(_texts, max_size=3),  # the assistant's tool calls, by their results' text
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_turn, min_size=1, max_size=4),
    st.sampled_from([{}, {"tools": WEATHER_TOOLS}, {"tool_choice": "none"}]),
)
def test_any_openai_conversation_becomes_one_converse_takes(
    turns: list[tuple[str, str, list[str]]], tools: dict[str, Any]
) -> None:
    # Blank text anywhere, empty answers and results, tools declared or not: `_body` checks
    # each body against the fake's copy of Converse's rules.
    messages: list[dict[str, Any]] = [{"role": "user", "content": "start"}]
    for turn, (user, answer, results) in enumerate(turns):
        calls = [
            {"id": f"c{turn}_{i}", "type": "function", "function": {"name": "f", "arguments": ""}}
            for i in range(len(results))
        ]
        assistant: dict[str, Any] = {"role": "assistant", "content": answer}
        if calls:
            assistant["tool_calls"] = calls
        messages.append(assistant)
        messages.extend(
            {"role": "tool", "tool_call_id": call["id"], "content": text}
            for call, text in zip(calls, results, strict=True)
        )
        messages.append({"role": "user", "content": user})
    _body(messages=messages, **tools)
