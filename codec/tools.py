"""Tool definitions and `tool_choice` <-> OpenAI JSON."""

from __future__ import annotations

from typing import Any

from codec.errors import CodecError
from codec.fields import as_bool, as_object, as_str, json_type, plain_str, type_error
from codec.values import (
    fill_struct,
    merge_extras,
    struct_to_dict,
    value_from_python,
    value_to_python,
)
from gateway.v1 import chat_pb2

_MODE_FROM_STR: dict[str, chat_pb2.ToolChoiceMode.ValueType] = {
    "none": chat_pb2.TOOL_CHOICE_MODE_NONE,
    "auto": chat_pb2.TOOL_CHOICE_MODE_AUTO,
    "required": chat_pb2.TOOL_CHOICE_MODE_REQUIRED,
}
_MODE_TO_STR: dict[int, str] = {number: name for name, number in _MODE_FROM_STR.items()}


def fill_tool(tool: chat_pb2.Tool, data: Any, where: str) -> None:
    """Fill `tool` from one entry of the request's `tools`."""
    if not isinstance(data, dict):
        raise CodecError(f"`{where}` must be an object, got {json_type(data)}", where)
    extras: dict[str, Any] = {}
    for key, value in data.items():
        if key == "type":
            tool.type = plain_str(value, extras, where, key)
        elif key == "function" and value is not None:
            _fill_function(tool.function, as_object(value, where, key), f"{where}.function")
        else:
            extras[key] = value
    if extras:
        fill_struct(tool.extras, extras, where)


def tool_to_json(tool: chat_pb2.Tool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if tool.type:
        out["type"] = tool.type
    if tool.HasField("function"):
        out["function"] = _function_to_json(tool.function)
    return merge_extras(out, tool.extras)


def fill_tool_choice(choice: chat_pb2.ToolChoice, value: Any) -> None:
    """Fill `choice` from a non-null `tool_choice`; forms we don't model go to `other` whole."""
    if isinstance(value, str):
        mode = _MODE_FROM_STR.get(value)
        if mode is not None:
            choice.mode = mode
            return
    elif isinstance(value, dict) and len(value) == 2 and value.get("type") == "function":
        function = value.get("function")
        if isinstance(function, dict) and len(function) == 1:
            name = function.get("name")
            if isinstance(name, str):
                choice.function_name = name
                return
    choice.other.CopyFrom(value_from_python(value))


def tool_choice_to_json(choice: chat_pb2.ToolChoice) -> Any:
    kind = choice.WhichOneof("choice")
    if kind == "mode":
        return _MODE_TO_STR.get(choice.mode)
    if kind == "function_name":
        return {"type": "function", "function": {"name": choice.function_name}}
    if kind == "other":
        return value_to_python(choice.other)
    return None


def _fill_function(function: chat_pb2.FunctionDefinition, data: dict[str, Any], where: str) -> None:
    function.SetInParent()
    name = data.get("name")
    if not isinstance(name, str):
        path = f"{where}.name"
        if name is None:
            raise CodecError(f"`{path}` is required", path)
        raise type_error(name, where, "name", "a string")
    extras: dict[str, Any] = {}
    for key, value in data.items():
        if key == "name":
            function.name = plain_str(value, extras, where, key)
        elif value is None:
            extras[key] = None
        elif key == "description":
            function.description = as_str(value, where, key)
        elif key == "parameters":
            parameters = as_object(value, where, key)
            function.parameters.SetInParent()  # `{}` stays distinct from "no parameters"
            fill_struct(function.parameters, parameters, f"{where}.parameters")
        elif key == "strict":
            function.strict = as_bool(value, where, key)
        else:
            extras[key] = value
    if extras:
        fill_struct(function.extras, extras, where)


def _function_to_json(function: chat_pb2.FunctionDefinition) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if function.name:
        out["name"] = function.name
    if function.HasField("description"):
        out["description"] = function.description
    if function.HasField("parameters"):
        out["parameters"] = struct_to_dict(function.parameters)
    if function.HasField("strict"):
        out["strict"] = function.strict
    return merge_extras(out, function.extras)
