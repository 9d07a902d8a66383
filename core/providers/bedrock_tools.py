"""ChatParams `tools` and `tool_choice` -> Converse's `toolConfig` (pure: no I/O).

Converse refuses a conversation holding toolUse or toolResult blocks unless `toolConfig` is
defined, even when the caller declares no tools for this turn (a client summarising after a
tool loop, or sending `tool_choice: "none"`). The tools its history names are then declared
as stubs: a name, a description saying they are not available, and an open schema.
"""

from __future__ import annotations

from typing import Any

from codec import struct_to_dict, value_to_python
from core.errors import InvalidRequest
from gateway.v1.chat_pb2 import (
    TOOL_CHOICE_MODE_AUTO,
    TOOL_CHOICE_MODE_NONE,
    TOOL_CHOICE_MODE_REQUIRED,
    ChatParams,
    Tool,
)

STUB_DESCRIPTION = "Used earlier in this conversation; not available now. Do not call it."
"""What a stub declares: worded so the model answers in text rather than calling it."""


def tool_config(params: ChatParams, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Converse's `toolConfig` for `params`, whose `messages` are already translated."""
    choice = _tool_choice(params)
    if choice == "none":
        # Converse has no "none" choice. The caller's tools are left out, so the model cannot
        # call them; a history with tool calls still needs its tools declared, as stubs that
        # say not to call them. The model could still call a stub: rare, and the closest
        # Converse comes to "none" (refusing the request would break every client that ends
        # a tool loop this way).
        return _stubs(messages)
    if not params.tools:
        if choice is not None:
            raise InvalidRequest("tool_choice needs tools", param="tool_choice")
        return _stubs(messages)
    config: dict[str, Any] = {
        "tools": [_tool(tool, f"tools[{i}]") for i, tool in enumerate(params.tools)]
    }
    if choice is not None:
        config["toolChoice"] = choice
    return config


def _stubs(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    # In order of first use. Results alone get no stubs: a result whose call is not in the
    # history is refused by Converse in any case.
    names = {
        block["toolUse"]["name"]: None
        for message in messages
        for block in message["content"]
        if "toolUse" in block
    }
    if not names:
        return None
    return {
        "tools": [
            {
                "toolSpec": {
                    "name": name,
                    "description": STUB_DESCRIPTION,
                    "inputSchema": {"json": {"type": "object"}},
                }
            }
            for name in names
        ]
    }


def _tool(tool: Tool, where: str) -> dict[str, Any]:
    if tool.type not in ("", "function"):
        raise InvalidRequest(
            f"{where}.type {tool.type!r} is not supported by bedrock models", param=f"{where}.type"
        )
    for key, value in struct_to_dict(tool.extras).items():
        if value is not None:
            raise InvalidRequest(
                f"{where}.{key} is not supported by bedrock models", param=f"{where}.{key}"
            )
    function = tool.function
    schema = (
        struct_to_dict(function.parameters)
        if function.HasField("parameters")
        else {"type": "object", "properties": {}}
    )
    spec: dict[str, Any] = {"name": function.name, "inputSchema": {"json": schema}}
    if function.HasField("description") and function.description:
        spec["description"] = function.description
    if function.HasField("strict"):
        spec["strict"] = function.strict
    return {"toolSpec": spec}


def _tool_choice(params: ChatParams) -> dict[str, Any] | str | None:
    """Converse's `toolChoice`, "none" for OpenAI's none (no Converse form), or None."""
    if not params.HasField("tool_choice"):
        return None
    tool_choice = params.tool_choice
    kind = tool_choice.WhichOneof("choice")
    if kind == "mode":
        if tool_choice.mode == TOOL_CHOICE_MODE_NONE:
            return "none"
        if tool_choice.mode == TOOL_CHOICE_MODE_AUTO:
            return {"auto": {}}
        if tool_choice.mode == TOOL_CHOICE_MODE_REQUIRED:
            return {"any": {}}
        return None
    if kind == "function_name":
        return {"tool": {"name": tool_choice.function_name}}
    if kind == "other":
        other = value_to_python(tool_choice.other)
        if isinstance(other, dict):
            function = other.get("function")
            name = function.get("name") if isinstance(function, dict) else None
            if other.get("type") == "function" and isinstance(name, str):
                return {"tool": {"name": name}}
    raise InvalidRequest("tool_choice has a form bedrock models do not take", param="tool_choice")
