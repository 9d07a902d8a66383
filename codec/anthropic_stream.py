"""ChatDelta pieces and the final ChatResult -> the Messages API's stream events.

Anthropic's sequence: `message_start`, then per content block `content_block_start`,
`content_block_delta`s (`text_delta`, `input_json_delta`) and `content_block_stop`, then
`message_delta` (stop reason, usage) and `message_stop`. OpenAI-style deltas interleave text
and tool calls freely; here a text run is one block and each tool call (by its index) another.
Each event is `(name, payload)`; the facade frames them as `event:`/`data:` lines.
"""

from __future__ import annotations

import json
from typing import Any

from codec.anthropic_common import stop_reason_from_choice, tool_use_id, usage_to_anthropic
from codec.anthropic_response import content_blocks
from gateway.v1 import chat_pb2

__all__ = ["Event", "MessageEvents"]

Event = tuple[str, dict[str, Any]]


class MessageEvents:
    """The events of one streamed message; `start`, `delta` for each piece, then `finish`."""

    def __init__(self, *, message_id: str, model: str) -> None:
        self._message_id = message_id
        self._model = model
        self._blocks = 0
        """Content blocks opened so far (the next block's index)."""
        self._open: int | None = None
        """The index of the block now open, if any."""
        self._text_block: int | None = None
        """The open block when it is text (text deltas go on in it)."""
        self._tool_blocks: dict[int, int] = {}
        """Tool call index -> its content block index."""

    def start(self) -> list[Event]:
        """`message_start`: an empty message (usage comes with `message_delta`)."""
        message: dict[str, Any] = {
            "id": self._message_id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [("message_start", {"type": "message_start", "message": message})]

    def delta(self, delta: chat_pb2.ChatDelta) -> list[Event]:
        """The events for one piece of the answer (none for a piece Anthropic has no block
        for, e.g. a role alone or `reasoning_content`)."""
        if delta.choice_index:
            return []  # Anthropic has one choice
        events: list[Event] = []
        if delta.content:
            if self._text_block is None:
                self._text_block = self._open_block(events, {"type": "text", "text": ""})
            events.append(
                _block_delta(self._text_block, {"type": "text_delta", "text": delta.content})
            )
        for piece in delta.tool_calls:
            block = self._tool_blocks.get(piece.index)
            if block is None:
                start = {
                    "type": "tool_use",
                    "id": tool_use_id(piece.id, f"{self._message_id}_{piece.index}"),
                    "name": piece.name,
                    "input": {},
                }
                block = self._tool_blocks[piece.index] = self._open_block(events, start)
            if piece.arguments:
                partial = {"type": "input_json_delta", "partial_json": piece.arguments}
                events.append(_block_delta(block, partial))
        return events

    def finish(self, result: chat_pb2.ChatResult) -> list[Event]:
        """Closes the open block and the message: `message_delta` (with the stop reason and
        usage) and `message_stop`. Content that came in no delta is sent whole first."""
        choice = result.choices[0] if result.choices else chat_pb2.Choice()
        events: list[Event] = []
        if not self._blocks:
            for block in content_blocks(choice.message, message_id=self._message_id):
                events.extend(self._whole_block(block))
        self._close(events)
        stop = {"stop_reason": stop_reason_from_choice(choice), "stop_sequence": None}
        usage = usage_to_anthropic(result.usage)
        events.append(("message_delta", {"type": "message_delta", "delta": stop, "usage": usage}))
        events.append(("message_stop", {"type": "message_stop"}))
        return events

    def _open_block(self, events: list[Event], block: dict[str, Any]) -> int:
        self._close(events)
        index = self._open = self._blocks
        self._blocks += 1
        if block["type"] == "text":
            self._text_block = index
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": block},
            )
        )
        return index

    def _close(self, events: list[Event]) -> None:
        if self._open is not None:
            events.append(
                ("content_block_stop", {"type": "content_block_stop", "index": self._open})
            )
        self._open = self._text_block = None

    def _whole_block(self, block: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        if block["type"] == "text":
            index = self._open_block(events, {"type": "text", "text": ""})
            events.append(_block_delta(index, {"type": "text_delta", "text": block["text"]}))
        else:
            index = self._open_block(events, {**block, "input": {}})
            partial = _json(block["input"])
            events.append(
                _block_delta(index, {"type": "input_json_delta", "partial_json": partial})
            )
        return events


def _block_delta(index: int, delta: dict[str, Any]) -> Event:
    return ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
