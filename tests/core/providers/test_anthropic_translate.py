"""The Anthropic translation functions on their own: request body, whole answer, stream events."""

from __future__ import annotations

from typing import Any

import pytest

from codec import chat_params_from_json, struct_to_dict
from core.errors import InvalidRequest
from core.providers.anthropic_request import DEFAULT_MAX_TOKENS, messages_body
from core.providers.anthropic_response import AnthropicStream, result_from_message
from gateway.v1.chat_pb2 import (
    FINISH_REASON_CONTENT_FILTER,
    FINISH_REASON_LENGTH,
    FINISH_REASON_STOP,
    FINISH_REASON_TOOL_CALLS,
    FINISH_REASON_UNSPECIFIED,
    ROLE_ASSISTANT,
)
from tests.core.providers.support import WEATHER_TOOLS


def _body(stream: bool = False, **request: Any) -> dict[str, Any]:
    data = {"model": "a/claude", "messages": [{"role": "user", "content": "hi"}], **request}
    return messages_body(chat_params_from_json(data), "claude", stream=stream)


def test_minimal_request() -> None:
    assert _body() == {
        "model": "claude",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": DEFAULT_MAX_TOKENS,
        "stream": False,
    }
    assert _body(stream=True)["stream"] is True


def test_system_and_developer_messages_become_top_level_system() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Be kind."}]},
        {"role": "user", "content": "hi"},
    ]
    body = _body(messages=messages)
    assert body["system"] == "Be brief.\n\nBe kind."
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    cached = [
        {
            "role": "system",
            "content": [{"type": "text", "text": "Long.", "cache_control": {"type": "ephemeral"}}],
        },
        {"role": "user", "content": "hi"},
    ]
    assert _body(messages=cached)["system"] == [
        {"type": "text", "text": "Long.", "cache_control": {"type": "ephemeral"}}
    ]


def test_text_and_image_parts() -> None:
    content = [
        {"type": "text", "text": "What is this?"},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64,iVBORw0K", "detail": "low"},
        },
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]
    body = _body(messages=[{"role": "user", "content": content}])
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


def test_bad_data_url_is_invalid_request() -> None:
    content = [{"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}}]
    with pytest.raises(InvalidRequest) as caught:
        _body(messages=[{"role": "user", "content": content}])
    assert caught.value.param == "messages[0].content[0].image_url.url"


CONVERSATION = [
    {"role": "user", "content": "Weather and time in Paris?"},
    {
        "role": "assistant",
        "content": "Let me look.",
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            },
            {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": ""}},
        ],
    },
    {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
    {"role": "tool", "tool_call_id": "call_b", "content": [{"type": "text", "text": "noon"}]},
    {"role": "user", "content": "Thanks"},
]


def test_tool_calls_and_results_both_ways() -> None:
    body = _body(messages=CONVERSATION)
    assert body["messages"] == [
        {"role": "user", "content": "Weather and time in Paris?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {
                    "type": "tool_use",
                    "id": "call_a",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {"type": "tool_use", "id": "call_b", "name": "get_time", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_a", "content": "sunny"},
                {
                    "type": "tool_result",
                    "tool_use_id": "call_b",
                    "content": [{"type": "text", "text": "noon"}],
                },
            ],
        },
        {"role": "user", "content": "Thanks"},
    ]


def test_invalid_tool_arguments_name_the_message() -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
            ],
        },
    ]
    with pytest.raises(InvalidRequest) as caught:
        _body(messages=messages)
    assert caught.value.param == "messages[1].tool_calls[0].function.arguments"
    assert "messages[1]" in caught.value.message


def test_tool_message_needs_its_call_id() -> None:
    with pytest.raises(InvalidRequest, match="tool_call_id"):
        _body(messages=[{"role": "tool", "content": "x"}])


def test_tools_and_tool_choice() -> None:
    body = _body(tools=WEATHER_TOOLS)
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather in a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in body
    choices = {
        "auto": {"type": "auto"},
        "required": {"type": "any"},
        "none": {"type": "none"},
    }
    for openai_choice, anthropic_choice in choices.items():
        assert (
            _body(tools=WEATHER_TOOLS, tool_choice=openai_choice)["tool_choice"] == anthropic_choice
        )
    named = {"type": "function", "function": {"name": "get_time"}}
    assert _body(tools=WEATHER_TOOLS, tool_choice=named)["tool_choice"] == {
        "type": "tool",
        "name": "get_time",
    }
    assert _body(tools=WEATHER_TOOLS, parallel_tool_calls=False)["tool_choice"] == {
        "type": "auto",
        "disable_parallel_tool_use": True,
    }
    assert _body(tools=WEATHER_TOOLS, tool_choice="required", parallel_tool_calls=False)[
        "tool_choice"
    ] == {"type": "any", "disable_parallel_tool_use": True}


def test_sampling_limits_and_extras() -> None:
    body = _body(
        max_tokens=100,
        max_completion_tokens=50,
        stop=["END"],
        temperature=0.5,
        top_p=0.9,
        user="u-1",
        top_k=5,
        thinking={"type": "enabled", "budget_tokens": 1024},
        logprobs=True,
        store=True,
        seed=3,
        frequency_penalty=0.1,
    )
    assert body["max_tokens"] == 50
    assert body["stop_sequences"] == ["END"]
    assert (body["temperature"], body["top_p"]) == (0.5, 0.9)
    assert body["metadata"] == {"user_id": "u-1"}
    assert body["top_k"] == 5
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    for openai_only in ("logprobs", "store", "seed", "frequency_penalty", "user", "stop"):
        assert openai_only not in body
    assert _body(max_tokens=100)["max_tokens"] == 100
    assert _body(stop="DONE")["stop_sequences"] == ["DONE"]


def test_several_choices_are_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        _body(n=2)
    assert caught.value.param == "n"


def test_whole_answer_with_parallel_tool_calls() -> None:
    message = {
        "id": "msg_1",
        "model": "claude",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "t2", "name": "get_time", "input": {}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 7},
    }
    result = result_from_message(message)
    choice = result.choices[0]
    assert result.id == "msg_1"
    assert choice.message.role == ROLE_ASSISTANT
    assert choice.message.text == "Checking."
    assert [(c.id, c.function.name, c.function.arguments) for c in choice.message.tool_calls] == [
        ("t1", "get_weather", '{"city":"Paris"}'),
        ("t2", "get_time", "{}"),
    ]
    assert struct_to_dict(choice.message.extras) == {"reasoning_content": "hmm"}
    assert choice.finish_reason == FINISH_REASON_TOOL_CALLS
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens) == (
        10,
        5,
        15,
    )
    assert struct_to_dict(result.usage.extras) == {"cache_read_input_tokens": 7}


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", FINISH_REASON_STOP),
        ("stop_sequence", FINISH_REASON_STOP),
        ("max_tokens", FINISH_REASON_LENGTH),
        ("tool_use", FINISH_REASON_TOOL_CALLS),
        ("refusal", FINISH_REASON_CONTENT_FILTER),
        ("pause_turn", FINISH_REASON_UNSPECIFIED),
    ],
)
def test_stop_reasons(stop_reason: str, expected: int) -> None:
    message = {"content": [{"type": "text", "text": "x"}], "stop_reason": stop_reason, "usage": {}}
    assert result_from_message(message).choices[0].finish_reason == expected


def test_stream_events_index_tool_calls_by_position_not_block() -> None:
    stream = AnthropicStream()
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {"id": "m", "model": "c", "usage": {"input_tokens": 9}},
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": ""},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"city":'},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '"Paris"}'},
        },
        {"type": "content_block_stop", "index": 1},
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "t2", "name": "get_time", "input": {}},
        },
        {"type": "content_block_stop", "index": 2},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 20},
        },
    ]
    deltas = [d for d in (stream.feed(e) for e in events) if d is not None]
    assert not stream.stopped
    stream.feed({"type": "message_stop"})
    assert stream.stopped
    assert deltas[0].role == ROLE_ASSISTANT
    assert deltas[0].content == "Hi"
    pieces = [(t.index, t.id, t.name, t.arguments) for d in deltas for t in d.tool_calls]
    assert pieces == [
        (0, "t1", "get_weather", ""),
        (0, "", "", '{"city":'),
        (0, "", "", '"Paris"}'),
        (1, "t2", "get_time", ""),
        (1, "", "", "{}"),  # a call without parameters still gets a JSON object
    ]
    result = stream.result()
    assert result.id == "m"
    calls = result.choices[0].message.tool_calls
    assert [(c.id, c.function.arguments) for c in calls] == [
        ("t1", '{"city":"Paris"}'),
        ("t2", "{}"),
    ]
    assert result.choices[0].finish_reason == FINISH_REASON_TOOL_CALLS
    assert (result.usage.input_tokens, result.usage.output_tokens) == (9, 20)


def test_stream_thinking_becomes_reasoning_content() -> None:
    stream = AnthropicStream()
    stream.feed({"type": "message_start", "message": {"usage": {"input_tokens": 1}}})
    block = {"type": "thinking", "thinking": ""}
    stream.feed({"type": "content_block_start", "index": 0, "content_block": block})
    delta = stream.feed(
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "hm"},
        }
    )
    assert delta is not None
    assert struct_to_dict(delta.extras) == {"reasoning_content": "hm"}
    stream.feed({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {}})
    stream.feed({"type": "message_stop"})
    message = stream.result().choices[0].message
    assert struct_to_dict(message.extras) == {"reasoning_content": "hm"}
