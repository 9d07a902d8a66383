"""Streamed chunks: ChatDelta -> OpenAI chunk JSON, and provider chunks -> ChatDelta."""

from __future__ import annotations

from typing import Any

import pytest

from codec import (
    CodecError,
    chunk_to_json,
    finish_chunks_to_json,
    parse_chunk_json,
    usage_chunk_to_json,
)
from gateway.v1 import chat_pb2

IDS = {"completion_id": "chatcmpl-1", "model": "openai-main/gpt-4o", "created": 1_700_000_000}
HEAD = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1_700_000_000,
    "model": "openai-main/gpt-4o",
}


def openai_chunk(*choices: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**HEAD, "system_fingerprint": "fp_1", "choices": list(choices), **fields}


def choice(
    delta: dict[str, Any], finish_reason: str | None = None, index: int = 0
) -> dict[str, Any]:
    return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}


def test_first_delta_has_openai_shape() -> None:
    delta = chat_pb2.ChatDelta(role=chat_pb2.ROLE_ASSISTANT, content="")
    assert chunk_to_json(delta, **IDS) == {
        **HEAD,
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": ""},
                "logprobs": None,
                "finish_reason": None,
            }
        ],
    }


def test_delta_shows_only_set_fields() -> None:
    delta = chat_pb2.ChatDelta(choice_index=1)
    delta.tool_calls.add(index=0, id="call_1", type="function", name="look", arguments="")
    delta.tool_calls.add(index=0, arguments='{"a"')
    delta.extras["reasoning_content"] = "hmm"
    assert chunk_to_json(delta, **IDS)["choices"] == [
        {
            "index": 1,
            "delta": {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "look", "arguments": ""},
                    },
                    {"index": 0, "function": {"arguments": '{"a"'}},
                ],
                "reasoning_content": "hmm",
            },
            "logprobs": None,
            "finish_reason": None,
        }
    ]


def test_finish_and_usage_chunks() -> None:
    result = chat_pb2.ChatResult()
    result.choices.add(index=0, finish_reason=chat_pb2.FINISH_REASON_STOP)
    result.choices.add(index=1).extras["finish_reason"] = "end_turn"
    result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens = 1, 2, 3
    assert finish_chunks_to_json(result, **IDS) == [
        {**HEAD, "choices": [choice({}, "stop")]},
        {**HEAD, "choices": [choice({}, "end_turn", index=1)]},
    ]
    assert usage_chunk_to_json(result, **IDS) == {
        **HEAD,
        "choices": [],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }


def test_parse_openai_text_stream() -> None:
    first = parse_chunk_json(
        openai_chunk(choice({"role": "assistant", "content": "", "refusal": None}), usage=None)
    )
    assert first.deltas == [chat_pb2.ChatDelta(role=chat_pb2.ROLE_ASSISTANT, content="")]
    assert first.finish_reasons == {}
    assert first.usage is None
    assert first.extras == {"system_fingerprint": "fp_1"}

    middle = parse_chunk_json(openai_chunk(choice({"content": "Hel"})))
    assert middle.deltas == [chat_pb2.ChatDelta(content="Hel")]

    last = parse_chunk_json(openai_chunk(choice({}, "stop")))
    assert last.deltas == []
    assert last.finish_reasons == {0: "stop"}


def test_parse_tool_call_deltas() -> None:
    opening = {"index": 0, "id": "call_a", "type": "function"}
    parsed = parse_chunk_json(
        openai_chunk(
            choice(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {**opening, "function": {"name": "weather", "arguments": ""}},
                        {
                            "index": 1,
                            "id": "call_b",
                            "type": "function",
                            "function": {"name": "time"},
                        },
                    ],
                }
            )
        )
    )
    (delta,) = parsed.deltas
    assert delta.role == chat_pb2.ROLE_ASSISTANT
    assert not delta.HasField("content")
    assert [(call.index, call.id, call.name) for call in delta.tool_calls] == [
        (0, "call_a", "weather"),
        (1, "call_b", "time"),
    ]
    assert delta.tool_calls[0].HasField("arguments")
    assert not delta.tool_calls[1].HasField("arguments")

    piece = parse_chunk_json(
        openai_chunk(choice({"tool_calls": [{"index": 1, "function": {"arguments": '{"tz"'}}]}))
    )
    (call,) = piece.deltas[0].tool_calls
    assert (call.index, call.arguments) == (1, '{"tz"')
    assert not call.HasField("id")
    assert not call.HasField("name")


def test_parse_usage_only_final_chunk() -> None:
    usage = {
        "prompt_tokens": 9,
        "completion_tokens": 12,
        "total_tokens": 21,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    }
    parsed = parse_chunk_json(openai_chunk(usage=usage))
    assert parsed.deltas == []
    assert parsed.usage is not None
    assert (parsed.usage.input_tokens, parsed.usage.total_tokens) == (9, 21)
    assert parsed.usage.extras["prompt_tokens_details"]["cached_tokens"] == 0


def test_parse_reasoning_content() -> None:
    chunk = openai_chunk(choice({"content": None, "reasoning_content": "Let me think"}))
    (delta,) = parse_chunk_json(chunk).deltas
    assert not delta.HasField("content")
    assert dict(delta.extras) == {"reasoning_content": "Let me think"}
    assert chunk_to_json(delta, **IDS)["choices"][0]["delta"] == {
        "reasoning_content": "Let me think"
    }


def test_null_padded_delta_yields_nothing() -> None:
    parsed = parse_chunk_json(
        openai_chunk(choice({"content": None, "reasoning_content": None}, "length", index=2))
    )
    assert parsed.deltas == []
    assert parsed.finish_reasons == {2: "length"}


def test_missing_tool_call_index_uses_position() -> None:
    parsed = parse_chunk_json(openai_chunk(choice({"tool_calls": [{"id": "a"}, {"id": "b"}]})))
    assert [call.index for call in parsed.deltas[0].tool_calls] == [0, 1]


@pytest.mark.parametrize(
    ("chunk", "param"),
    [
        ({"choices": "x"}, "choices"),
        ({"choices": [3]}, "choices[0]"),
        ({"choices": [{"index": -1, "delta": {}}]}, "choices[0].index"),
        ({"choices": [{"delta": "x"}]}, "choices[0].delta"),
        ({"choices": [{"delta": {"content": 1}}]}, "choices[0].delta.content"),
        (
            {"choices": [{"delta": {"tool_calls": [{"function": {"arguments": {}}}]}}]},
            "choices[0].delta.tool_calls[0].function.arguments",
        ),
        ({"usage": [1]}, "usage"),
    ],
)
def test_invalid_chunks(chunk: dict[str, Any], param: str) -> None:
    with pytest.raises(CodecError) as caught:
        parse_chunk_json(chunk)
    assert caught.value.param == param
