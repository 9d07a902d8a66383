"""Chat messages, content parts and tool calls <-> OpenAI JSON; shared by requests and responses."""

from __future__ import annotations

from typing import Any

from codec.errors import CodecError
from codec.fields import as_object, as_str, json_type, plain_str, type_error
from codec.values import fill_struct, merge_extras, struct_to_dict
from gateway.v1 import chat_pb2

ROLE_FROM_STR: dict[str, chat_pb2.Role.ValueType] = {
    "system": chat_pb2.ROLE_SYSTEM,
    "user": chat_pb2.ROLE_USER,
    "assistant": chat_pb2.ROLE_ASSISTANT,
    "tool": chat_pb2.ROLE_TOOL,
    "developer": chat_pb2.ROLE_DEVELOPER,
}
ROLE_TO_STR: dict[int, str] = {number: name for name, number in ROLE_FROM_STR.items()}


def fill_message(
    msg: chat_pb2.Message,
    data: Any,
    where: str,
    default_role: chat_pb2.Role.ValueType = chat_pb2.ROLE_UNSPECIFIED,
) -> None:
    """Fill `msg` from one OpenAI message object at JSON path `where`.

    With `default_role` (provider responses) a missing or unknown role becomes that role;
    without it (client requests) the role must be one of the five known ones.
    """
    if not isinstance(data, dict):
        raise CodecError(f"`{where}` must be an object, got {json_type(data)}", where)
    extras: dict[str, Any] = {}
    for key, value in data.items():
        if key == "role":
            role = ROLE_FROM_STR.get(value) if isinstance(value, str) else None
            if role is None and not default_role:
                path = f"{where}.role"
                raise CodecError(
                    f"`{path}` must be one of system, user, assistant, tool, developer", path
                )
            msg.role = role or default_role
        elif key == "content":
            if isinstance(value, str):
                msg.text = value
            elif isinstance(value, list):
                _fill_parts(msg.parts, value, where)
            elif value is None:
                extras[key] = None
            else:
                raise type_error(value, where, key, "a string, an array of content parts or null")
        elif key == "tool_calls":
            if isinstance(value, list) and value:
                for i, item in enumerate(value):
                    fill_tool_call(msg.tool_calls.add(), item, f"{where}.tool_calls[{i}]")
            elif value is None or isinstance(value, list):
                # null and [] can't live in a repeated field without losing the distinction.
                extras[key] = value
            else:
                raise type_error(value, where, key, "an array")
        elif key == "name":
            if value is None:
                extras[key] = None
            else:
                msg.name = as_str(value, where, key)
        elif key == "tool_call_id":
            if value is None:
                extras[key] = None
            else:
                msg.tool_call_id = as_str(value, where, key)
        else:
            extras[key] = value
    if not msg.role:
        if not default_role:
            raise CodecError(f"`{where}.role` is required", f"{where}.role")
        msg.role = default_role
    if extras:
        fill_struct(msg.extras, extras, where)


def message_to_json(msg: chat_pb2.Message) -> dict[str, Any]:
    """One OpenAI message object; unset fields are left out and extras merged back."""
    out: dict[str, Any] = {}
    role = ROLE_TO_STR.get(msg.role)
    if role is not None:
        out["role"] = role
    kind = msg.WhichOneof("content")
    if kind == "text":
        out["content"] = msg.text
    elif kind == "parts":
        out["content"] = [_part_to_json(part) for part in msg.parts.parts]
    if msg.HasField("name"):
        out["name"] = msg.name
    if msg.tool_calls:
        out["tool_calls"] = [tool_call_to_json(call) for call in msg.tool_calls]
    if msg.HasField("tool_call_id"):
        out["tool_call_id"] = msg.tool_call_id
    return merge_extras(out, msg.extras)


def fill_tool_call(call: chat_pb2.ToolCall, data: Any, where: str) -> None:
    """Fill `call` from one entry of an assistant message's `tool_calls`."""
    if not isinstance(data, dict):
        raise CodecError(f"`{where}` must be an object, got {json_type(data)}", where)
    extras: dict[str, Any] = {}
    for key, value in data.items():
        if key == "id":
            call.id = plain_str(value, extras, where, key)
        elif key == "type":
            call.type = plain_str(value, extras, where, key)
        elif key == "function":
            if value is None:
                extras[key] = None
                continue
            function = as_object(value, where, key)
            # FunctionCall has no extras: its unknown keys (and "" / null name or
            # arguments) ride in ToolCall.extras["function"], merged back on output.
            function_extras = _fill_function_call(call.function, function, f"{where}.function")
            if function_extras:
                extras[key] = function_extras
        else:
            extras[key] = value
    if extras:
        fill_struct(call.extras, extras, where)


def tool_call_to_json(call: chat_pb2.ToolCall) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if call.id:
        out["id"] = call.id
    if call.type:
        out["type"] = call.type
    if call.HasField("function"):
        function: dict[str, Any] = {}
        if call.function.name:
            function["name"] = call.function.name
        if call.function.arguments:
            function["arguments"] = call.function.arguments
        out["function"] = function
    return merge_extras(out, call.extras)


def _fill_function_call(
    function: chat_pb2.FunctionCall, data: dict[str, Any], where: str
) -> dict[str, Any]:
    function.SetInParent()
    extras: dict[str, Any] = {}
    for key, value in data.items():
        if key == "name":
            function.name = plain_str(value, extras, where, key)
        elif key == "arguments":
            function.arguments = plain_str(value, extras, where, key)
        else:
            extras[key] = value
    return extras


def _fill_parts(parts: chat_pb2.ContentParts, items: list[Any], where: str) -> None:
    parts.SetInParent()  # an empty list is still list content, not "no content"
    for j, item in enumerate(items):
        part_where = f"{where}.content[{j}]"
        if not isinstance(item, dict):
            raise CodecError(f"`{part_where}` must be an object, got {json_type(item)}", part_where)
        part = parts.parts.add()
        kind = item.get("type")
        if kind == "text":
            _fill_text_part(part.text, item, part_where)
            continue
        if kind == "image_url":
            image = item.get("image_url")
            # Typed only in the exact OpenAI shape; ImagePart.extras holds the inner
            # object's extras, so outer extras or a bare URL string keep the whole part.
            if isinstance(image, dict) and len(item) == 2:
                _fill_image_part(part.image_url, image, f"{part_where}.image_url")
                continue
            if not (image is None or isinstance(image, str | dict)):
                raise type_error(image, part_where, "image_url", "an object")
        part.other.SetInParent()
        fill_struct(part.other, item, part_where)


def _fill_text_part(text: chat_pb2.TextPart, item: dict[str, Any], where: str) -> None:
    text.SetInParent()
    extras: dict[str, Any] = {}
    for key, value in item.items():
        if key == "text":
            text.text = plain_str(value, extras, where, key)
        elif key != "type":
            extras[key] = value
    if extras:
        fill_struct(text.extras, extras, where)


def _fill_image_part(image: chat_pb2.ImagePart, inner: dict[str, Any], where: str) -> None:
    image.SetInParent()
    extras: dict[str, Any] = {}
    for key, value in inner.items():
        if key == "url":
            image.url = plain_str(value, extras, where, key)
        elif key == "detail" and value is not None:
            image.detail = as_str(value, where, key)
        else:
            extras[key] = value
    if extras:
        fill_struct(image.extras, extras, where)


def _part_to_json(part: chat_pb2.ContentPart) -> dict[str, Any]:
    kind = part.WhichOneof("part")
    if kind == "text":
        out: dict[str, Any] = {"type": "text"}
        if part.text.text:
            out["text"] = part.text.text
        return merge_extras(out, part.text.extras)
    if kind == "image_url":
        image = part.image_url
        inner: dict[str, Any] = {}
        if image.url:
            inner["url"] = image.url
        if image.HasField("detail"):
            inner["detail"] = image.detail
        return {"type": "image_url", "image_url": merge_extras(inner, image.extras)}
    if kind == "other":
        return struct_to_dict(part.other)
    return {}
