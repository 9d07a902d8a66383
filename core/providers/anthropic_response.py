"""Anthropic Messages API answers (whole, or as stream events) -> ChatDelta and ChatResult."""

from __future__ import annotations

import json
from typing import Any

from codec import struct_from_dict
from codec.anthropic_common import finish_reason_from_stop, usage_from_anthropic
from core.providers.assembler import StreamAssembler
from gateway.v1.chat_pb2 import ROLE_ASSISTANT, ChatDelta, ChatResult, ToolCallDelta

_REASONING = "reasoning_content"
"""Message extra that carries `thinking` text, the name OpenAI-compatible servers use."""


def _arguments(tool_input: Any) -> str:
    return json.dumps(tool_input, separators=(",", ":"), ensure_ascii=False)


def result_from_message(message: dict[str, Any]) -> ChatResult:
    """A whole (non-streamed) Anthropic message as a ChatResult; raises on a malformed one."""
    assembler = StreamAssembler()
    assembler.add(ChatDelta(role=ROLE_ASSISTANT))
    tool_position = 0
    for block in message["content"]:
        kind = block["type"]
        if kind == "text":
            assembler.add(ChatDelta(content=block["text"]))
        elif kind == "tool_use":
            piece = ToolCallDelta(
                index=tool_position,
                id=block["id"],
                type="function",
                name=block["name"],
                arguments=_arguments(block.get("input") or {}),
            )
            assembler.add(ChatDelta(tool_calls=[piece]))
            tool_position += 1
        elif kind == "thinking":
            assembler.add(ChatDelta(extras=struct_from_dict({_REASONING: block["thinking"]})))
    if message.get("stop_reason"):
        assembler.finish(0, finish_reason_from_stop(message["stop_reason"]))
    return assembler.result(
        usage_from_anthropic(message.get("usage") or {}),
        id=str(message.get("id") or ""),
        model=str(message.get("model") or ""),
    )


class AnthropicStream:
    """Turns Anthropic stream events into ChatDelta pieces and, at the end, the ChatResult."""

    def __init__(self) -> None:
        self._assembler = StreamAssembler()
        self._tool_positions: dict[int, int] = {}
        """Content-block index -> the call's position among tool calls (what OpenAI indexes)."""
        self._tools_with_arguments: set[int] = set()
        self._usage: dict[str, Any] = {}
        self._id = ""
        self._model = ""
        self._role_sent = False
        self.stopped = False
        """Whether `message_stop` arrived: without it the stream was cut."""

    def feed(self, event: dict[str, Any]) -> ChatDelta | None:
        """Takes one decoded event; returns the delta it carries, if any. Raises on bad shapes."""
        kind = event.get("type")
        if kind == "message_start":
            message = event["message"]
            self._id = str(message.get("id") or "")
            self._model = str(message.get("model") or "")
            self._merge_usage(message.get("usage"))
        elif kind == "content_block_start":
            return self._block_start(event["index"], event["content_block"])
        elif kind == "content_block_delta":
            return self._block_delta(event["index"], event["delta"])
        elif kind == "content_block_stop":
            position = self._tool_positions.get(event["index"])
            if position is not None and position not in self._tools_with_arguments:
                # A call without parameters streams no JSON; OpenAI clients expect "{}".
                return self._emit(
                    ChatDelta(tool_calls=[ToolCallDelta(index=position, arguments="{}")])
                )
        elif kind == "message_delta":
            stop_reason = event.get("delta", {}).get("stop_reason")
            if stop_reason:
                self._assembler.finish(0, finish_reason_from_stop(stop_reason))
            self._merge_usage(event.get("usage"))
        elif kind == "message_stop":
            self.stopped = True
        return None

    def _block_start(self, index: int, block: dict[str, Any]) -> ChatDelta | None:
        kind = block.get("type")
        if kind == "tool_use":
            position = self._tool_positions[index] = len(self._tool_positions)
            piece = ToolCallDelta(
                index=position, id=block["id"], type="function", name=block["name"]
            )
            if block.get("input"):
                piece.arguments = _arguments(block["input"])
                self._tools_with_arguments.add(position)
            return self._emit(ChatDelta(tool_calls=[piece]))
        if kind == "text" and block.get("text"):
            return self._emit(ChatDelta(content=block["text"]))
        return None

    def _block_delta(self, index: int, delta: dict[str, Any]) -> ChatDelta | None:
        kind = delta.get("type")
        if kind == "text_delta":
            return self._emit(ChatDelta(content=delta["text"]))
        if kind == "input_json_delta" and delta.get("partial_json"):
            position = self._tool_positions[index]
            self._tools_with_arguments.add(position)
            piece = ToolCallDelta(index=position, arguments=delta["partial_json"])
            return self._emit(ChatDelta(tool_calls=[piece]))
        if kind == "thinking_delta":
            return self._emit(ChatDelta(extras=struct_from_dict({_REASONING: delta["thinking"]})))
        return None

    def _emit(self, delta: ChatDelta) -> ChatDelta:
        if not self._role_sent:
            delta.role = ROLE_ASSISTANT
            self._role_sent = True
        self._assembler.add(delta)
        return delta

    def _merge_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            self._usage.update((k, v) for k, v in usage.items() if v is not None)

    def result(self) -> ChatResult:
        """The assembled answer, once `stopped`."""
        return self._assembler.result(
            usage_from_anthropic(self._usage), id=self._id, model=self._model
        )
