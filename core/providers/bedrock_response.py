"""Bedrock Converse answers (whole, or as ConverseStream events) -> ChatDelta and ChatResult."""

from __future__ import annotations

import json
from typing import Any

from codec import struct_from_dict
from core.providers.assembler import StreamAssembler
from core.router.limits import estimated_input_tokens
from gateway.v1.chat_pb2 import (
    ROLE_ASSISTANT,
    ChatDelta,
    ChatParams,
    ChatResult,
    ToolCallDelta,
    Usage,
)

_REASONING = "reasoning_content"
"""Message extra that carries reasoning text, the name OpenAI-compatible servers use."""

FINISH_BY_STOP = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
"""Converse `stopReason` -> OpenAI finish reason; others (`malformed_tool_use`) pass raw."""

# Converse's cache counts, under the names the Anthropic family already reports, so pricing,
# logs and the Messages API read one vocabulary whichever family answered.
_CACHE_KEYS = {
    "cacheReadInputTokens": "cache_read_input_tokens",
    "cacheWriteInputTokens": "cache_creation_input_tokens",
}


def _arguments(tool_input: Any) -> str:
    return json.dumps(tool_input, separators=(",", ":"), ensure_ascii=False)


def usage_from_converse(usage: dict[str, Any]) -> Usage:
    """Converse `usage`: input and output counted apart from cache reads and writes (as
    Anthropic does), which go to the extras with the rest."""
    input_tokens = int(usage.get("inputTokens") or 0)
    output_tokens = int(usage.get("outputTokens") or 0)
    result = Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
    )
    extras = {
        name: int(usage[key]) for key, name in _CACHE_KEYS.items() if usage.get(key) is not None
    }
    if extras:
        result.extras.CopyFrom(struct_from_dict(extras))
    return result


def estimated_usage(params: ChatParams, result: ChatResult) -> Usage:
    """Usage for an answer Bedrock sent without counting it: the estimate the router charges
    a billed call that reported none (about four characters a token), of the request for
    input and of the answer's messages for output."""
    input_tokens = estimated_input_tokens(params)
    output_tokens = estimated_input_tokens(
        ChatParams(messages=[choice.message for choice in result.choices])
    )
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
    )


def finish_reason_from_stop(stop_reason: str) -> str:
    """OpenAI's name for a Converse `stopReason` (unknown ones unchanged)."""
    return FINISH_BY_STOP.get(stop_reason, stop_reason)


def result_from_converse(answer: dict[str, Any]) -> ChatResult:
    """A whole Converse answer as a ChatResult; raises on a malformed one."""
    assembler = StreamAssembler()
    assembler.add(ChatDelta(role=ROLE_ASSISTANT))
    tool_position = 0
    for block in answer["output"]["message"]["content"]:
        if "text" in block:
            assembler.add(ChatDelta(content=block["text"]))
        elif "toolUse" in block:
            use = block["toolUse"]
            piece = ToolCallDelta(
                index=tool_position,
                id=use["toolUseId"],
                type="function",
                name=use["name"],
                arguments=_arguments(use.get("input") or {}),
            )
            assembler.add(ChatDelta(tool_calls=[piece]))
            tool_position += 1
        elif "reasoningContent" in block:
            # Only the text is kept: its `signature` (and `redactedContent`) is dropped, so a
            # client cannot send the reasoning back and multi-turn extended thinking with
            # tools cannot continue on Bedrock (the request side ignores reasoning_content).
            text = (block["reasoningContent"].get("reasoningText") or {}).get("text")
            if text:
                assembler.add(ChatDelta(extras=struct_from_dict({_REASONING: text})))
    if answer.get("stopReason"):
        assembler.finish(0, finish_reason_from_stop(answer["stopReason"]))
    return assembler.result(usage_from_converse(answer.get("usage") or {}))


class ConverseStream:
    """Turns ConverseStream events into ChatDelta pieces and, at the end, the ChatResult.

    Bedrock sends `messageStop` and then `metadata` (usage) as the last event; the stream is
    whole once `messageStop` came, and `done` once the usage did too.
    """

    def __init__(self) -> None:
        self._assembler = StreamAssembler()
        self._tool_positions: dict[int, int] = {}
        """Content-block index -> the call's position among tool calls (what OpenAI indexes)."""
        self._tools_with_arguments: set[int] = set()
        self._usage: dict[str, Any] = {}
        self._role_sent = False
        self.stopped = False
        """Whether `messageStop` arrived: without it the stream was cut."""
        self.done = False
        """Whether `metadata`, the last event, arrived."""

    def feed(self, kind: str, event: dict[str, Any]) -> ChatDelta | None:
        """Takes one event by its `:event-type`; returns its delta, if any. Raises on bad shapes."""
        if kind == "contentBlockStart":
            return self._block_start(event["contentBlockIndex"], event["start"])
        if kind == "contentBlockDelta":
            return self._block_delta(event["contentBlockIndex"], event["delta"])
        if kind == "contentBlockStop":
            position = self._tool_positions.get(event["contentBlockIndex"])
            if position is not None and position not in self._tools_with_arguments:
                # A call without parameters streams no JSON; OpenAI clients expect "{}".
                return self._emit(
                    ChatDelta(tool_calls=[ToolCallDelta(index=position, arguments="{}")])
                )
        elif kind == "messageStop":
            self._assembler.finish(0, finish_reason_from_stop(event["stopReason"]))
            self.stopped = True
        elif kind == "metadata":
            usage = event.get("usage")
            if isinstance(usage, dict):
                self._usage = usage
            self.done = True
        # messageStart carries only the role, sent with the first delta.
        return None

    def _block_start(self, index: int, start: dict[str, Any]) -> ChatDelta | None:
        use = start.get("toolUse")
        if use is None:
            return None
        position = self._tool_positions[index] = len(self._tool_positions)
        piece = ToolCallDelta(
            index=position, id=use["toolUseId"], type="function", name=use["name"]
        )
        return self._emit(ChatDelta(tool_calls=[piece]))

    def _block_delta(self, index: int, delta: dict[str, Any]) -> ChatDelta | None:
        if "text" in delta:
            return self._emit(ChatDelta(content=delta["text"]))
        if "toolUse" in delta:
            arguments = delta["toolUse"].get("input") or ""
            if not arguments:
                return None
            position = self._tool_positions[index]
            self._tools_with_arguments.add(position)
            piece = ToolCallDelta(index=position, arguments=arguments)
            return self._emit(ChatDelta(tool_calls=[piece]))
        # Reasoning `signature` deltas are dropped, as in whole answers (see above).
        text = (delta.get("reasoningContent") or {}).get("text")
        if text:
            return self._emit(ChatDelta(extras=struct_from_dict({_REASONING: text})))
        return None

    def _emit(self, delta: ChatDelta) -> ChatDelta:
        if not self._role_sent:
            delta.role = ROLE_ASSISTANT
            self._role_sent = True
        self._assembler.add(delta)
        return delta

    def result(self) -> ChatResult:
        """The assembled answer, once `stopped`."""
        return self._assembler.result(usage_from_converse(self._usage))
