"""Anthropic Messages API request JSON -> ChatParams (the inbound `POST /v1/messages`).

The request is checked in Anthropic's terms (a 400 names the Anthropic field at fault) and
rewritten as the equivalent OpenAI chat request, which `chat_params_from_json` then stores:
one way into ChatParams for every wire format. What has no equivalent is refused, never
dropped: server tools, `container`, `mcp_servers`, document blocks other than plain text.
The one exception is `thinking`, accepted and not applied (see `_check_thinking`). Unknown
top-level keys travel in `family_extras["anthropic"]`, for Anthropic accounts only.
Tool ids pass verbatim; answers give them Anthropic's `toolu_` prefix when they lack it
(`codec.anthropic_common.tool_use_id`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from codec.anthropic_common import image_url_from_source
from codec.chat_request import chat_params_from_json
from codec.errors import CodecError, rejects_surrogates
from codec.fields import as_bool, as_int, as_list, as_object, as_str, json_type
from codec.values import fill_struct, struct_to_dict
from gateway.v1 import chat_pb2

__all__ = [
    "ANTHROPIC_FAMILY",
    "IMAGE_TOKENS",
    "UNSUPPORTED_FIELDS",
    "chat_params_from_anthropic",
    "estimate_input_tokens",
    "openai_body_from_anthropic",
]

ANTHROPIC_FAMILY = "anthropic"
"""The `family_extras` key of the Messages API's own fields (the provider family's name)."""

IMAGE_TOKENS = 1600
"""What `estimate_input_tokens` counts for an image: Anthropic's cost of its largest size."""

UNSUPPORTED_FIELDS = frozenset({"container", "mcp_servers"})
"""Top-level request fields answered with 400: the gateway has nothing to do them with."""

# Read here, never passed on: the rest of the top level travels as extras.
_MODELED = frozenset(
    {
        "model",
        "max_tokens",
        "system",
        "messages",
        "tools",
        "tool_choice",
        "stop_sequences",
        "temperature",
        "top_p",
        "metadata",
        "stream",
        "thinking",
    }
)
# Blocks a model wrote that no other provider can read back; dropped from the history.
_SKIPPED_BLOCKS = frozenset({"thinking", "redacted_thinking"})
_TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}


@rejects_surrogates
def chat_params_from_anthropic(body: Mapping[str, Any]) -> chat_pb2.ChatParams:
    """Translate a Messages API request; raises CodecError naming the field at fault.

    The request's own fields that OpenAI's chat has no name for (`top_k`,
    `context_management`, `service_tier`, ...) go to `family_extras["anthropic"]`: an
    Anthropic account receives them as sent; an OpenAI-compatible one, which would refuse
    them (Claude Code sends `context_management` to whatever model it is given), does not.
    """
    params = chat_params_from_json(openai_body_from_anthropic(body))
    own = {key: value for key, value in body.items() if key not in _MODELED and value is not None}
    if "context_management" in own:
        managed = _without_thinking_edits(own.pop("context_management"))
        if managed:
            own["context_management"] = managed
    if own:
        fill_struct(params.family_extras[ANTHROPIC_FAMILY], own, None)
    return params


def _without_thinking_edits(value: Any) -> Any:
    """`context_management` without its `clear_thinking_*` edits (None when nothing is left):
    thinking is not applied (`_check_thinking`), and an edit of thinking blocks presumes it is."""
    if not isinstance(value, dict) or not isinstance(value.get("edits"), list):
        return value
    edits = [
        edit
        for edit in value["edits"]
        if not (isinstance(edit, dict) and str(edit.get("type", "")).startswith("clear_thinking"))
    ]
    if len(edits) == len(value["edits"]):
        return value
    rest = {key: item for key, item in value.items() if key != "edits"}
    return {**rest, "edits": edits} if edits else rest or None


def openai_body_from_anthropic(body: Mapping[str, Any]) -> dict[str, Any]:
    """The OpenAI chat request equivalent to a Messages API request (checked)."""
    unsupported = sorted(UNSUPPORTED_FIELDS & body.keys())
    if unsupported:
        raise CodecError(f"`{unsupported[0]}` is not supported by this gateway", unsupported[0])
    model = body.get("model")
    if model is None:
        raise CodecError("`model` is required", "model")
    if body.get("max_tokens") is None:
        raise CodecError("`max_tokens` is required", "max_tokens")
    max_tokens = as_int(body["max_tokens"], "", "max_tokens", low=1)
    _check_thinking(body.get("thinking"))
    messages = _system(body.get("system"))
    raw_messages = as_list(body.get("messages"), "", "messages")
    if not raw_messages:
        raise CodecError("`messages` must contain at least one message", "messages")
    for i, message in enumerate(raw_messages):
        messages.extend(_message(message, f"messages[{i}]"))
    out: dict[str, Any] = {
        "model": as_str(model, "", "model"),
        "messages": messages,
        "max_tokens": max_tokens,
    }
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stop_sequences") is not None:
        stops = as_list(body["stop_sequences"], "", "stop_sequences")
        out["stop"] = [as_str(s, "", f"stop_sequences[{i}]") for i, s in enumerate(stops)]
    if body.get("tools") is not None:
        out["tools"] = [
            _tool(tool, f"tools[{i}]") for i, tool in enumerate(as_list(body["tools"], "", "tools"))
        ]
    if body.get("tool_choice") is not None:
        out.update(_tool_choice(as_object(body["tool_choice"], "", "tool_choice")))
    if body.get("metadata") is not None:
        user = as_object(body["metadata"], "", "metadata").get("user_id")
        if user is not None:
            out["user"] = as_str(user, "metadata", "user_id")
    if "tools" not in out:  # OpenAI refuses both without tools; Anthropic lets them pass
        out.pop("tool_choice", None)
        out.pop("parallel_tool_calls", None)
    return out


def estimate_input_tokens(params: chat_pb2.ChatParams) -> int:
    """An estimate of the prompt's tokens, not a count: a quarter of the characters of its
    text (messages, tool calls, tool definitions), plus `IMAGE_TOKENS` an image; at least 1.
    Tokenizers differ by model; about four characters a token is the usual rule of thumb."""
    characters = 0
    images = 0
    for message in params.messages:
        if message.WhichOneof("content") == "text":
            characters += len(message.text)
        for part in message.parts.parts:
            characters += len(part.text.text)
            images += part.WhichOneof("part") == "image_url"
        for call in message.tool_calls:
            characters += len(call.function.name) + len(call.function.arguments)
    for tool in params.tools:
        function = tool.function
        schema = json.dumps(struct_to_dict(function.parameters), separators=(",", ":"))
        characters += len(function.name) + len(function.description) + len(schema)
    return max(-(-characters // 4) + images * IMAGE_TOKENS, 1)


_THINKING_TYPES = ("enabled", "adaptive", "disabled")


def _check_thinking(value: Any) -> None:
    """Accepts `thinking` and applies none: the answer comes without extended thinking.

    Claude Code asks for it on every call, so refusing it would shut Claude Code out. It
    cannot be honoured: thinking blocks (and their signatures) do not survive the chat
    pipeline, so they are left out of the history, and Anthropic refuses a tool loop with
    thinking on whose earlier turns lack them; other families have no such blocks at all."""
    if value is None:
        return
    kind = as_object(value, "", "thinking").get("type")
    if kind not in _THINKING_TYPES:
        raise CodecError(
            f"`thinking.type` must be one of {', '.join(_THINKING_TYPES)}, got {kind!r}",
            "thinking.type",
        )


def _system(value: Any, where: str = "system") -> list[dict[str, Any]]:
    """The top-level `system`, or a `system` message of the conversation (`where` names it):
    a string or text blocks."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"role": "system", "content": value}]
    blocks = as_list(value, "", where)
    texts = [_text_block(block, f"{where}[{i}]") for i, block in enumerate(blocks)]
    return [{"role": "system", "content": _content([{"type": "text", "text": t} for t in texts])}]


def _content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """One text part as a plain string, the form every OpenAI-compatible server takes."""
    if len(parts) == 1 and parts[0]["type"] == "text":
        return str(parts[0]["text"])
    return parts


def _text_block(block: Any, where: str) -> str:
    data = _block(block, where)
    if data["type"] != "text":
        raise CodecError(f"`{where}.type` must be `text` here", f"{where}.type")
    return as_str(data.get("text"), where, "text")


def _block(block: Any, where: str) -> dict[str, Any]:
    if not isinstance(block, dict):
        raise CodecError(f"`{where}` must be an object, got {json_type(block)}", where)
    if not isinstance(block.get("type"), str):
        raise CodecError(f"`{where}.type` is required", f"{where}.type")
    return block


def _message(message: Any, where: str) -> list[dict[str, Any]]:
    data = as_object(message, "", where)
    role = data.get("role")
    if role == "system":
        # Claude Code (2.1) puts system notes between turns; chat keeps them in place.
        return _system(data.get("content"), f"{where}.content")
    if role not in ("user", "assistant"):
        raise CodecError(f"`{where}.role` must be `user`, `assistant` or `system`", f"{where}.role")
    content = data.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    blocks = as_list(content, where, "content")
    if role == "assistant":
        return [_assistant(blocks, where)]
    return _user(blocks, where)


def _assistant(blocks: list[Any], where: str) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for i, block in enumerate(blocks):
        path = f"{where}.content[{i}]"
        data = _block(block, path)
        kind = data["type"]
        if kind == "text":
            parts.append({"type": "text", "text": as_str(data.get("text"), path, "text")})
        elif kind == "tool_use":
            calls.append(_tool_call(data, path))
        elif kind not in _SKIPPED_BLOCKS:
            raise _unsupported_block(kind, path)
    out: dict[str, Any] = {"role": "assistant"}
    if parts or not calls:
        out["content"] = _content(parts)
    if calls:
        out["tool_calls"] = calls
    return out


def _tool_call(data: dict[str, Any], where: str) -> dict[str, Any]:
    arguments = as_object(data.get("input", {}), where, "input")
    return {
        "id": as_str(data.get("id"), where, "id"),
        "type": "function",
        "function": {
            "name": as_str(data.get("name"), where, "name"),
            "arguments": json.dumps(arguments, separators=(",", ":"), ensure_ascii=False),
        },
    }


def _user(blocks: list[Any], where: str) -> list[dict[str, Any]]:
    """A user turn: each `tool_result` becomes a tool message, in place; the other blocks
    between them a user message each run, so the order of the content survives. Images in
    tool results (which OpenAI tool messages cannot hold) follow the results in a user turn."""
    out: list[dict[str, Any]] = []
    run: list[dict[str, Any]] = []
    for i, block in enumerate(blocks):
        path = f"{where}.content[{i}]"
        data = _block(block, path)
        if data["type"] == "tool_result":
            if run:
                out.append({"role": "user", "content": _content(run)})
                run = []
            tool, images = _tool_result(data, path)
            out.append(tool)
            run.extend(images)
        else:
            run.append(_user_part(data, path))
    if run or not out:
        out.append({"role": "user", "content": _content(run)})
    return out


def _user_part(data: dict[str, Any], where: str) -> dict[str, Any]:
    kind = data["type"]
    if kind == "text":
        return {"type": "text", "text": as_str(data.get("text"), where, "text")}
    if kind == "image":
        return _image(data, where)
    if kind == "document":
        source = as_object(data.get("source"), where, "source")
        if source.get("type") == "text":
            return {"type": "text", "text": as_str(source.get("data"), f"{where}.source", "data")}
        raise CodecError(
            f"`{where}`: only plain-text document blocks are supported by this gateway",
            f"{where}.source.type",
        )
    raise _unsupported_block(kind, where)


def _image(data: dict[str, Any], where: str) -> dict[str, Any]:
    url = image_url_from_source(as_object(data.get("source"), where, "source"))
    if url is None:
        raise CodecError(
            f"`{where}.source` must be a base64 source (`media_type`, `data`) or a url source",
            f"{where}.source",
        )
    return {"type": "image_url", "image_url": {"url": url}}


def _tool_result(data: dict[str, Any], where: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    content = data.get("content", "")
    images: list[dict[str, Any]] = []
    texts: list[dict[str, Any]] = []
    if isinstance(content, str):
        texts.append({"type": "text", "text": content})
    else:
        for j, block in enumerate(as_list(content, where, "content")):
            path = f"{where}.content[{j}]"
            part = _user_part(_block(block, path), path)
            (images if part["type"] == "image_url" else texts).append(part)
    if data.get("is_error") is not None and as_bool(data["is_error"], where, "is_error"):
        # OpenAI tool messages have no error flag: the model reads it in the text.
        texts.insert(0, {"type": "text", "text": "Error:"})
    message: dict[str, Any] = {
        "role": "tool",
        "tool_call_id": as_str(data.get("tool_use_id"), where, "tool_use_id"),
        "content": _content(texts),
    }
    return message, images


def _tool(tool: Any, where: str) -> dict[str, Any]:
    data = as_object(tool, "", where)
    kind = data.get("type")
    if kind not in (None, "custom"):
        raise CodecError(
            f"`{where}`: server tools (`{kind}`) are not supported by this gateway; "
            "declare client tools with `name` and `input_schema`",
            f"{where}.type",
        )
    function: dict[str, Any] = {"name": as_str(data.get("name"), where, "name")}
    if data.get("description") is not None:
        function["description"] = as_str(data["description"], where, "description")
    if data.get("input_schema") is None:
        raise CodecError(f"`{where}.input_schema` is required", f"{where}.input_schema")
    function["parameters"] = as_object(data["input_schema"], where, "input_schema")
    return {"type": "function", "function": function}


def _tool_choice(data: dict[str, Any]) -> dict[str, Any]:
    kind = data.get("type")
    out: dict[str, Any] = {}
    if kind == "tool":
        name = as_str(data.get("name"), "tool_choice", "name")
        out["tool_choice"] = {"type": "function", "function": {"name": name}}
    elif isinstance(kind, str) and kind in _TOOL_CHOICES:
        out["tool_choice"] = _TOOL_CHOICES[kind]
    else:
        raise CodecError(
            "`tool_choice.type` must be one of auto, any, tool, none", "tool_choice.type"
        )
    disable = data.get("disable_parallel_tool_use")
    if disable is not None and as_bool(disable, "tool_choice", "disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False
    return out


def _unsupported_block(kind: str, where: str) -> CodecError:
    return CodecError(
        f"`{where}`: content blocks of type `{kind}` are not supported by this gateway",
        f"{where}.type",
    )
