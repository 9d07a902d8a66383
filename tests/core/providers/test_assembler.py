"""StreamAssembler: deltas in, one ChatResult out."""

from __future__ import annotations

from codec import struct_from_dict, struct_to_dict
from core.providers.assembler import StreamAssembler
from gateway.v1.chat_pb2 import (
    FINISH_REASON_LENGTH,
    FINISH_REASON_STOP,
    FINISH_REASON_TOOL_CALLS,
    FINISH_REASON_UNSPECIFIED,
    ROLE_ASSISTANT,
    ChatDelta,
    ToolCallDelta,
    Usage,
)


def test_content_is_appended_per_choice_in_index_order() -> None:
    assembler = StreamAssembler()
    assembler.add(ChatDelta(choice_index=1, role=ROLE_ASSISTANT, content="B1 "))
    assembler.add(ChatDelta(choice_index=0, role=ROLE_ASSISTANT, content="A1 "))
    assembler.add(ChatDelta(choice_index=1, content="B2"))
    assembler.add(ChatDelta(choice_index=0, content="A2"))
    assert not assembler.finished
    assembler.finish(0, "stop")
    assert not assembler.finished
    assembler.finish(1, "length")
    assert assembler.finished
    result = assembler.result(Usage(input_tokens=3, output_tokens=4, total_tokens=7), id="c1")
    assert result.id == "c1"
    assert [c.index for c in result.choices] == [0, 1]
    assert [c.message.text for c in result.choices] == ["A1 A2", "B1 B2"]
    assert [c.finish_reason for c in result.choices] == [FINISH_REASON_STOP, FINISH_REASON_LENGTH]
    assert result.choices[0].message.role == ROLE_ASSISTANT
    assert result.usage.total_tokens == 7


def test_tool_calls_merge_by_index() -> None:
    assembler = StreamAssembler()
    assembler.add(ChatDelta(role=ROLE_ASSISTANT))
    assembler.add(
        ChatDelta(tool_calls=[ToolCallDelta(index=1, id="b", type="function", name="two")])
    )
    assembler.add(ChatDelta(tool_calls=[ToolCallDelta(index=0, id="a", name="one", arguments="")]))
    assembler.add(ChatDelta(tool_calls=[ToolCallDelta(index=0, arguments='{"x":')]))
    assembler.add(ChatDelta(tool_calls=[ToolCallDelta(index=1, arguments="{}")]))
    # A repeated id or name does not overwrite the first one.
    assembler.add(ChatDelta(tool_calls=[ToolCallDelta(index=0, id="zzz", arguments="1}")]))
    assembler.finish(0, "tool_calls")
    message = assembler.result(Usage()).choices[0].message
    assert not message.HasField("text")  # no content at all reads as null, as OpenAI sends it
    calls = [(c.id, c.type, c.function.name, c.function.arguments) for c in message.tool_calls]
    assert calls == [("a", "function", "one", '{"x":1}'), ("b", "function", "two", "{}")]
    assert assembler.result(Usage()).choices[0].finish_reason == FINISH_REASON_TOOL_CALLS


def test_extras_merge_and_string_extras_append() -> None:
    assembler = StreamAssembler()
    assembler.add(ChatDelta(extras=struct_from_dict({"reasoning_content": "think ", "n": 1})))
    assembler.add(ChatDelta(extras=struct_from_dict({"reasoning_content": "hard", "n": 2})))
    assembler.finish(0, "stop")
    message = assembler.result(Usage()).choices[0].message
    assert struct_to_dict(message.extras) == {"reasoning_content": "think hard", "n": 2}


def test_unknown_finish_reason_is_kept_raw() -> None:
    assembler = StreamAssembler()
    assembler.add(ChatDelta(content="x"))
    assembler.finish(0, "pause_turn")
    choice = assembler.result(Usage()).choices[0]
    assert choice.finish_reason == FINISH_REASON_UNSPECIFIED
    assert struct_to_dict(choice.extras) == {"finish_reason": "pause_turn"}


def test_result_carries_response_extras_and_empty_content() -> None:
    assembler = StreamAssembler()
    assembler.add(ChatDelta(role=ROLE_ASSISTANT, content=""))
    assembler.finish(0, "stop")
    result = assembler.result(Usage(), model="m", extras={"system_fingerprint": "fp"})
    assert result.model == "m"
    assert struct_to_dict(result.extras) == {"system_fingerprint": "fp"}
    assert result.choices[0].message.HasField("text")
    assert result.choices[0].message.text == ""
