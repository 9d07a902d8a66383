"""ChatResult -> an Anthropic Messages API answer (`{"type": "message", ...}`)."""

from __future__ import annotations

import json
from typing import Any

from codec.anthropic_common import stop_reason_from_choice, tool_use_id, usage_to_anthropic
from gateway.v1 import chat_pb2

__all__ = ["content_blocks", "message_from_chat_result", "tool_input"]


def message_from_chat_result(
    result: chat_pb2.ChatResult, *, message_id: str, model: str
) -> dict[str, Any]:
    """The Messages API answer for `result` (its first choice: Anthropic has no `n`)."""
    choice = result.choices[0] if result.choices else chat_pb2.Choice()
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content_blocks(choice.message, message_id=message_id),
        "stop_reason": stop_reason_from_choice(choice),
        "stop_sequence": None,
        "usage": usage_to_anthropic(result.usage),
    }


def content_blocks(message: chat_pb2.Message, *, message_id: str) -> list[dict[str, Any]]:
    """A message's text, then its tool calls, as Anthropic content blocks."""
    blocks: list[dict[str, Any]] = []
    text = _text(message)
    if text:
        blocks.append({"type": "text", "text": text})
    for i, call in enumerate(message.tool_calls):
        blocks.append(
            {
                "type": "tool_use",
                "id": tool_use_id(call.id, f"{message_id}_{i}"),
                "name": call.function.name,
                "input": tool_input(call.function.arguments),
            }
        )
    return blocks


def tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's JSON arguments as Anthropic's `input` object; arguments that are not a
    JSON object (a model's broken output) are kept whole under `_arguments`, not lost."""
    if not arguments.strip():
        return {}
    try:
        parsed = json.loads(arguments)
    except ValueError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"_arguments": arguments}


def _text(message: chat_pb2.Message) -> str:
    if message.WhichOneof("content") == "text":
        return message.text
    return "".join(part.text.text for part in message.parts.parts if part.HasField("text"))
