"""A Responses API request's `input` -> the chat messages it stands for, in order.

A message item is a chat message (its `input_text` / `output_text` parts joined as one text,
`input_image` an `image_url` part); consecutive `function_call` items join the assistant
message just before them as its `tool_calls`; each `function_call_output` is a tool message.
Reasoning items (which no chat model can read back) are left out; other item and part types
are refused with the path of the field at fault (`input[2].content[0].type`).
"""

from __future__ import annotations

from typing import Any

from codec.errors import CodecError
from codec.fields import as_list, as_object, as_str, json_type

__all__ = ["messages_from_input"]

_MESSAGE_ROLES = ("user", "system", "developer", "assistant")
# Items a model wrote that no chat model can read back; left out of the history.
_SKIPPED_ITEMS = frozenset({"reasoning"})


def messages_from_input(value: Any) -> list[dict[str, Any]]:
    """The chat messages of a request's `input` (a string, or a non-empty list of items)."""
    if value is None:
        raise CodecError("`input` is required", "input")
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise CodecError(
            f"`input` must be a string or a non-empty array of items, got {json_type(value)}",
            "input",
        )
    messages: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        where = f"input[{i}]"
        data = as_object(item, "", where)
        kind = data.get("type")
        if kind is None and "role" in data:  # the SDK's EasyInputMessage has no type
            kind = "message"
        if kind == "message":
            messages.append(_message(data, where))
        elif kind == "function_call":
            _append_call(messages, _function_call(data, where))
        elif kind == "function_call_output":
            messages.append(_function_output(data, where))
        elif not (isinstance(kind, str) and kind in _SKIPPED_ITEMS):
            raise CodecError(
                f"`{where}`: input items of type `{kind}` are not supported by this gateway "
                "(only message, function_call and function_call_output)",
                f"{where}.type",
            )
    if not messages:
        raise CodecError("`input` holds no message", "input")
    return messages


def _message(data: dict[str, Any], where: str) -> dict[str, Any]:
    role = data.get("role")
    if role not in _MESSAGE_ROLES:
        raise CodecError(
            f"`{where}.role` must be one of {', '.join(_MESSAGE_ROLES)}", f"{where}.role"
        )
    content = data.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    parts = [
        _part(part, role, f"{where}.content[{j}]")
        for j, part in enumerate(as_list(content, where, "content"))
    ]
    refusals = [part["refusal"] for part in parts if part["type"] == "refusal"]
    parts = [part for part in parts if part["type"] != "refusal"]
    out: dict[str, Any] = {"role": role, "content": _content(parts)}
    if refusals:
        out["refusal"] = "".join(refusals)
    return out


def _content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Text parts alone as one string, the form every OpenAI-compatible server takes."""
    if all(part["type"] == "text" for part in parts):
        return "".join(part["text"] for part in parts)
    return parts


def _part(part: Any, role: str, where: str) -> dict[str, Any]:
    data = as_object(part, "", where)
    kind = data.get("type")
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": as_str(data.get("text"), where, "text")}
    if kind == "refusal" and role == "assistant":
        return {"type": "refusal", "refusal": as_str(data.get("refusal"), where, "refusal")}
    if kind == "input_image" and role == "user":
        return _image(data, where)
    raise CodecError(
        f"`{where}`: content parts of type `{kind}` are not supported in a {role} message "
        "by this gateway",
        f"{where}.type",
    )


def _image(data: dict[str, Any], where: str) -> dict[str, Any]:
    if data.get("image_url") is None:
        raise CodecError(
            f"`{where}.image_url` is required (a URL or a base64 data URL; `file_id` is not "
            "supported by this gateway)",
            f"{where}.image_url",
        )
    image: dict[str, Any] = {"url": as_str(data["image_url"], where, "image_url")}
    if data.get("detail") is not None:
        image["detail"] = as_str(data["detail"], where, "detail")
    return {"type": "image_url", "image_url": image}


def _function_call(data: dict[str, Any], where: str) -> dict[str, Any]:
    return {
        "id": as_str(data.get("call_id"), where, "call_id"),
        "type": "function",
        "function": {
            "name": as_str(data.get("name"), where, "name"),
            "arguments": as_str(data.get("arguments"), where, "arguments"),
        },
    }


def _append_call(messages: list[dict[str, Any]], call: dict[str, Any]) -> None:
    """A call joins the assistant message just before it (text or calls), else opens one."""
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant":
        last.setdefault("tool_calls", []).append(call)
        return
    messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def _function_output(data: dict[str, Any], where: str) -> dict[str, Any]:
    output = data.get("output")
    if isinstance(output, str):
        content: str | list[dict[str, Any]] = output
    else:
        parts = as_list(output, where, "output")
        content = _content(
            [_part(part, "tool", f"{where}.output[{j}]") for j, part in enumerate(parts)]
        )
    return {
        "role": "tool",
        "tool_call_id": as_str(data.get("call_id"), where, "call_id"),
        "content": content,
    }
