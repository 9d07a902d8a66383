"""Response JSON <-> ChatResult, usage and finish reasons."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings

from codec import (
    CodecError,
    chat_result_from_json,
    chat_result_to_json,
    finish_reason_from_str,
    finish_reason_to_str,
    usage_from_json,
    usage_to_json,
)
from gateway.v1 import chat_pb2
from tests.codec.response_strategies import chat_results, provider_responses


@settings(max_examples=200, deadline=None)
@given(chat_results())
def test_result_json_reads_back_to_the_same_json(result: chat_pb2.ChatResult) -> None:
    encoded = chat_result_to_json(result)
    assert chat_result_to_json(chat_result_from_json(encoded)) == encoded


@settings(max_examples=200, deadline=None)
@given(provider_responses)
def test_provider_response_passes_through(body: dict[str, Any]) -> None:
    assert chat_result_to_json(chat_result_from_json(body)) == body


def test_result_from_core_has_openai_shape() -> None:
    result = chat_pb2.ChatResult(id="chatcmpl-1", model="openai-main/gpt-4o")
    result.create_time.seconds = 1_700_000_000
    first = result.choices.add(index=0, finish_reason=chat_pb2.FINISH_REASON_TOOL_CALLS)
    call = first.message.tool_calls.add(id="call_1", type="function")
    call.function.name = "look"
    second = result.choices.add(index=1, finish_reason=chat_pb2.FINISH_REASON_STOP)
    second.message.role = chat_pb2.ROLE_ASSISTANT
    second.message.text = "hi"
    result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens = 3, 4, 7
    result.extras["system_fingerprint"] = "fp_1"
    assert chat_result_to_json(result) == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "openai-main/gpt-4o",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "refusal": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "look", "arguments": ""},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
                "logprobs": None,
            },
            {
                "index": 1,
                "message": {"role": "assistant", "content": "hi", "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            },
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        "system_fingerprint": "fp_1",
    }


def test_provider_response_is_read_leniently() -> None:
    result = chat_result_from_json(
        {
            "id": "x",
            "model": "m",
            "created": 5,
            "choices": [{"index": 0, "message": {"content": "hi"}, "finish_reason": "eos"}],
        }
    )
    choice = result.choices[0]
    assert choice.message.role == chat_pb2.ROLE_ASSISTANT
    assert choice.finish_reason == chat_pb2.FINISH_REASON_UNSPECIFIED
    assert choice.extras["finish_reason"] == "eos"
    assert result.HasField("usage")
    assert result.usage.total_tokens == 0
    assert result.create_time.seconds == 5
    assert chat_result_to_json(result)["choices"][0]["finish_reason"] == "eos"


def test_unknown_finish_reason_wins_over_enum() -> None:
    choice = chat_pb2.Choice(finish_reason=chat_pb2.FINISH_REASON_STOP)
    choice.extras["finish_reason"] = "end_turn"
    result = chat_pb2.ChatResult(choices=[choice])
    assert chat_result_to_json(result)["choices"][0]["finish_reason"] == "end_turn"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("stop", chat_pb2.FINISH_REASON_STOP),
        ("length", chat_pb2.FINISH_REASON_LENGTH),
        ("tool_calls", chat_pb2.FINISH_REASON_TOOL_CALLS),
        ("content_filter", chat_pb2.FINISH_REASON_CONTENT_FILTER),
        ("function_call", chat_pb2.FINISH_REASON_FUNCTION_CALL),
    ],
)
def test_known_finish_reasons(text: str, reason: chat_pb2.FinishReason.ValueType) -> None:
    assert finish_reason_from_str(text) == (reason, None)
    assert finish_reason_to_str(reason) == text


def test_unknown_and_missing_finish_reasons() -> None:
    assert finish_reason_from_str("eos") == (chat_pb2.FINISH_REASON_UNSPECIFIED, "eos")
    assert finish_reason_from_str(None) == (chat_pb2.FINISH_REASON_UNSPECIFIED, None)
    assert finish_reason_to_str(chat_pb2.FINISH_REASON_UNSPECIFIED) is None


def test_usage_round_trip_keeps_details() -> None:
    data = {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "prompt_tokens_details": {"cached_tokens": 8},
    }
    usage = usage_from_json(data)
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (10, 5, 15)
    assert usage_to_json(usage) == data


def test_usage_defaults() -> None:
    assert usage_to_json(usage_from_json(None)) == {
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
    }
    assert usage_from_json({"prompt_tokens": 2, "completion_tokens": 3}).total_tokens == 5


@pytest.mark.parametrize(
    ("body", "message", "param"),
    [
        ({"choices": "x"}, "`choices` must be an array, got string", "choices"),
        ({"choices": [1]}, "`choices[0]` must be an object, got integer", "choices[0]"),
        ({"created": "now"}, "`created` must be an integer, got string", "created"),
        ({"usage": 3}, "`usage` must be an object, got integer", "usage"),
        (
            {"usage": {"prompt_tokens": "3"}},
            "`usage.prompt_tokens` must be an integer, got string",
            "usage.prompt_tokens",
        ),
        (
            {"choices": [{"message": {"content": 3}}]},
            "`choices[0].message.content` must be a string, an array of content parts or null,"
            " got integer",
            "choices[0].message.content",
        ),
    ],
)
def test_invalid_responses(body: dict[str, Any], message: str, param: str) -> None:
    with pytest.raises(CodecError) as caught:
        chat_result_from_json(body)
    assert (caught.value.message, caught.value.param) == (message, param)
