"""ChatParams -> an Anthropic Messages API request body (pure: no I/O)."""

from __future__ import annotations

from typing import Any

from codec import struct_to_dict, value_to_python
from codec.anthropic_common import image_source_from_url
from codec.anthropic_messages import ANTHROPIC_FAMILY
from core.errors import InvalidRequest
from core.providers.tool_arguments import arguments_object
from gateway.v1.chat_pb2 import (
    ROLE_ASSISTANT,
    ROLE_DEVELOPER,
    ROLE_SYSTEM,
    ROLE_TOOL,
    ROLE_USER,
    TOOL_CHOICE_MODE_AUTO,
    TOOL_CHOICE_MODE_NONE,
    TOOL_CHOICE_MODE_REQUIRED,
    ChatParams,
    ContentPart,
    Message,
    Tool,
    ToolChoice,
)

DEFAULT_MAX_TOKENS = 4096
"""Anthropic requires `max_tokens`; this is used when the request sets no limit."""

# Request fields Anthropic knows; other extras are OpenAI's (logprobs, store, ...) and dropped.
ANTHROPIC_EXTRAS = frozenset(
    {
        "top_k",
        "metadata",
        "thinking",
        "service_tier",
        "stop_sequences",
        "container",
        "mcp_servers",
        "context_management",
        "inference_geo",
    }
)

# Content-block keys Anthropic accepts beside the ones we build.
_BLOCK_EXTRAS = ("cache_control", "citations")

_TOOL_CHOICE_MODES = {
    TOOL_CHOICE_MODE_AUTO: "auto",
    TOOL_CHOICE_MODE_REQUIRED: "any",
    TOOL_CHOICE_MODE_NONE: "none",
}


def messages_body(params: ChatParams, model: str, *, stream: bool) -> dict[str, Any]:
    """The Anthropic request for `params`; raises InvalidRequest for what cannot be expressed."""
    if params.HasField("n") and params.n > 1:
        raise InvalidRequest("anthropic models generate one choice: n must be 1", param="n")
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for position, message in enumerate(params.messages):
        where = f"messages[{position}]"
        if message.role in (ROLE_SYSTEM, ROLE_DEVELOPER):
            system.extend(_blocks(message, where))
        elif message.role == ROLE_USER:
            messages.append({"role": "user", "content": _content(message, where)})
        elif message.role == ROLE_ASSISTANT:
            messages.append({"role": "assistant", "content": _assistant_content(message, where)})
        elif message.role == ROLE_TOOL:
            _append_tool_result(messages, message, where)
        else:
            raise InvalidRequest(f"{where}.role is not set", param=f"{where}.role")

    extras = struct_to_dict(params.extras)
    max_tokens = (
        params.max_completion_tokens
        if params.HasField("max_completion_tokens")
        else params.max_tokens
        if params.HasField("max_tokens")
        else DEFAULT_MAX_TOKENS
    )
    body: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": max_tokens}
    if system:
        body["system"] = _system(system)
    if params.HasField("temperature"):
        body["temperature"] = params.temperature
    if params.HasField("top_p"):
        body["top_p"] = params.top_p
    stop = list(params.stop) or ([extras["stop"]] if isinstance(extras.get("stop"), str) else [])
    if stop:
        body["stop_sequences"] = stop
    if params.HasField("user"):
        body["metadata"] = {"user_id": params.user}
    if params.tools:
        body["tools"] = [_tool(tool) for tool in params.tools]
        choice = _tool_choice(params)
        if choice is not None:
            body["tool_choice"] = choice
    body.update((key, value) for key, value in extras.items() if key in ANTHROPIC_EXTRAS)
    if ANTHROPIC_FAMILY in params.family_extras:  # a Messages API caller's own fields, as sent
        body.update(struct_to_dict(params.family_extras[ANTHROPIC_FAMILY]))
    body["stream"] = stream
    return body


def _system(blocks: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    # A plain string unless a block carries more than text (e.g. `cache_control`).
    if all(block.keys() == {"type", "text"} for block in blocks):
        return "\n\n".join(block["text"] for block in blocks)
    return blocks


def _content(message: Message, where: str) -> str | list[dict[str, Any]]:
    if message.WhichOneof("content") == "parts":
        return _blocks(message, where)
    return message.text


def _blocks(message: Message, where: str) -> list[dict[str, Any]]:
    kind = message.WhichOneof("content")
    if kind == "text":
        return [{"type": "text", "text": message.text}]
    if kind is None:
        return []
    return [_block(part, f"{where}.content[{i}]") for i, part in enumerate(message.parts.parts)]


def _block(part: ContentPart, where: str) -> dict[str, Any]:
    kind = part.WhichOneof("part")
    if kind == "text":
        return _with_extras(
            {"type": "text", "text": part.text.text}, struct_to_dict(part.text.extras)
        )
    if kind == "image_url":
        image = part.image_url
        return _with_extras(
            {"type": "image", "source": _image_source(image.url, where)},
            struct_to_dict(image.extras),
        )
    if kind == "other":
        # Anthropic-native blocks (`document`, ...) pass as given; anything else is Anthropic's 400.
        return struct_to_dict(part.other)
    raise InvalidRequest(f"{where} is empty", param=where)


def _with_extras(block: dict[str, Any], extras: dict[str, Any]) -> dict[str, Any]:
    block.update((key, extras[key]) for key in _BLOCK_EXTRAS if key in extras)
    return block


def _image_source(url: str, where: str) -> dict[str, Any]:
    source = image_source_from_url(url)
    if source is None:
        raise InvalidRequest(
            f"{where}.image_url.url: data URLs must be `data:<type>;base64,<data>`",
            param=f"{where}.image_url.url",
        )
    return source


def _assistant_content(message: Message, where: str) -> str | list[dict[str, Any]]:
    if not message.tool_calls:
        return _content(message, where)
    blocks = [block for block in _blocks(message, where) if block.get("text") != ""]
    for i, call in enumerate(message.tool_calls):
        blocks.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.function.name,
                "input": arguments_object(
                    call.function.arguments, f"{where}.tool_calls[{i}]", "anthropic"
                ),
            }
        )
    return blocks


def _append_tool_result(messages: list[dict[str, Any]], message: Message, where: str) -> None:
    if not message.HasField("tool_call_id"):
        raise InvalidRequest(f"{where}.tool_call_id is required", param=f"{where}.tool_call_id")
    content = _content(message, where)
    block = {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": content}
    last = messages[-1] if messages else None
    # Anthropic wants all results for one assistant turn in the single user turn that follows.
    if (
        last is not None
        and last["role"] == "user"
        and isinstance(last["content"], list)
        and all(b.get("type") == "tool_result" for b in last["content"])
    ):
        last["content"].append(block)
    else:
        messages.append({"role": "user", "content": [block]})


def _tool(tool: Tool) -> dict[str, Any]:
    extras = struct_to_dict(tool.extras)
    if tool.type not in ("", "function"):
        # Anthropic's own tool types (e.g. `web_search_20250305`) are described by their extras.
        return {"type": tool.type, **extras}
    function = tool.function
    spec: dict[str, Any] = {
        "name": function.name,
        "input_schema": struct_to_dict(function.parameters)
        if function.HasField("parameters")
        else {"type": "object", "properties": {}},
    }
    if function.HasField("description"):
        spec["description"] = function.description
    return _with_extras(spec, extras)


def _tool_choice(params: ChatParams) -> dict[str, Any] | None:
    choice: dict[str, Any] | None = (
        _choice_of(params.tool_choice) if params.HasField("tool_choice") else None
    )
    if params.HasField("parallel_tool_calls") and not params.parallel_tool_calls:
        choice = choice or {"type": "auto"}
        if choice.get("type") != "none":
            choice["disable_parallel_tool_use"] = True
    return choice


def _choice_of(tool_choice: ToolChoice) -> dict[str, Any] | None:
    kind = tool_choice.WhichOneof("choice")
    if kind == "mode":
        mode = _TOOL_CHOICE_MODES.get(tool_choice.mode)
        return None if mode is None else {"type": mode}
    if kind == "function_name":
        return {"type": "tool", "name": tool_choice.function_name}
    if kind == "other":
        other = value_to_python(tool_choice.other)
        if isinstance(other, dict):
            name = (other.get("function") or {}).get("name")
            if other.get("type") == "function" and isinstance(name, str):
                return {"type": "tool", "name": name}
            # Anthropic's own shape ({"type": "any"}, ...) passes as given.
            return other
        raise InvalidRequest(
            "tool_choice has a form anthropic models do not take", param="tool_choice"
        )
    return None
