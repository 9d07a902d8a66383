"""ChatResult -> an OpenAI Responses API `response` object, and its output items.

The answer's text is one `message` output item (`msg_<id>`), each tool call a
`function_call` item (`fc_<id>_<i>`, its `call_id` the provider's tool call id), in that order.
A choice cut by the token limit makes the response `incomplete` (`max_output_tokens`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from codec.chat_response import usage_to_json
from codec.completions import message_text
from gateway.v1 import chat_pb2

__all__ = [
    "function_call_item",
    "message_item",
    "output_items",
    "response_from_chat_result",
    "response_object",
    "response_status",
    "usage_to_responses",
]

_INCOMPLETE = {
    chat_pb2.FINISH_REASON_LENGTH: "max_output_tokens",
    chat_pb2.FINISH_REASON_CONTENT_FILTER: "content_filter",
}


def response_from_chat_result(
    result: chat_pb2.ChatResult,
    echo: Mapping[str, Any],
    *,
    response_id: str,
    model: str,
    created_at: int,
) -> dict[str, Any]:
    """The `response` answering a Responses request (its first choice: there is no `n`)."""
    choice = result.choices[0] if result.choices else chat_pb2.Choice()
    status, details = response_status(choice)
    items = output_items(choice.message, response_id=response_id, status=status)
    return response_object(
        echo,
        response_id=response_id,
        model=model,
        created_at=created_at,
        status=status,
        output=items,
        usage=usage_to_responses(result.usage),
        incomplete_details=details,
    )


def response_object(
    echo: Mapping[str, Any],
    *,
    response_id: str,
    model: str,
    created_at: int,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None = None,
    incomplete_details: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A `response` object: the request's settings (`echo`) with the given state."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": error,
        "incomplete_details": incomplete_details,
        "model": model,
        "output": output,
        "usage": usage,
        **echo,
    }


def response_status(choice: chat_pb2.Choice) -> tuple[str, dict[str, Any] | None]:
    """`completed`, or `incomplete` with its `incomplete_details`, for a finished choice."""
    reason = _INCOMPLETE.get(choice.finish_reason)
    if reason is None:
        return "completed", None
    return "incomplete", {"reason": reason}


def output_items(
    message: chat_pb2.Message, *, response_id: str, status: str
) -> list[dict[str, Any]]:
    """A message's text (and refusal) as a `message` item, then its tool calls."""
    items: list[dict[str, Any]] = []
    text = message_text(message)
    refusal = message.extras.fields.get("refusal")
    refused = refusal.string_value if refusal is not None else ""
    if text or refused or not message.tool_calls:
        items.append(message_item(response_id, text, status=status, refusal=refused))
    for i, call in enumerate(message.tool_calls):
        items.append(
            function_call_item(
                response_id,
                i,
                call_id=call.id,
                name=call.function.name,
                arguments=call.function.arguments,
                status=status,
            )
        )
    return items


def message_item(response_id: str, text: str, *, status: str, refusal: str = "") -> dict[str, Any]:
    """The assistant `message` output item holding `text` (and a refusal, if any)."""
    content: list[dict[str, Any]] = []
    if text or not refusal:
        content.append(output_text_part(text))
    if refusal:
        content.append({"type": "refusal", "refusal": refusal})
    return {
        "type": "message",
        "id": f"msg_{response_id.removeprefix('resp_')}",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def output_text_part(text: str) -> dict[str, Any]:
    """An `output_text` content part."""
    return {"type": "output_text", "text": text, "annotations": []}


def function_call_item(
    response_id: str, index: int, *, call_id: str, name: str, arguments: str, status: str
) -> dict[str, Any]:
    """A `function_call` output item; a call without an id gets one made from its place."""
    own = response_id.removeprefix("resp_")
    return {
        "type": "function_call",
        "id": f"fc_{own}_{index}",
        "call_id": call_id or f"call_{own}_{index}",
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def usage_to_responses(usage: chat_pb2.Usage) -> dict[str, Any]:
    """The Responses usage object; cached and reasoning tokens from the chat usage's details."""
    chat = usage_to_json(usage)
    prompt = chat.get("prompt_tokens_details")
    completion = chat.get("completion_tokens_details")
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": _count(prompt, "cached_tokens"),
            "cache_write_tokens": _count(prompt, "cache_write_tokens"),
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": _count(completion, "reasoning_tokens")},
        "total_tokens": usage.total_tokens,
    }


def _count(details: Any, key: str) -> int:
    value = details.get(key) if isinstance(details, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    return 0
