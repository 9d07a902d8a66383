"""ChatParams -> a Bedrock Converse / ConverseStream request body (pure: no I/O).

What Converse cannot express is refused with InvalidRequest naming the field, never dropped:
sampling knobs it lacks (seed, penalties), `n > 1`, image URLs it cannot fetch, and OpenAI
fields it has no room for. `response_format: json_schema` maps to Converse's own structured
output (`outputConfig.textFormat`); models without it answer Bedrock's own 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from codec import struct_to_dict, value_to_python
from core.errors import InvalidRequest
from core.providers.tool_arguments import arguments_object
from gateway.v1.chat_pb2 import (
    RESPONSE_FORMAT_TYPE_JSON_OBJECT,
    RESPONSE_FORMAT_TYPE_JSON_SCHEMA,
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
)

CONVERSE_FIELDS = frozenset(
    {
        "additionalModelRequestFields",
        "additionalModelResponseFieldPaths",
        "guardrailConfig",
        "performanceConfig",
        "promptVariables",
        "requestMetadata",
        "serviceTier",
        "outputConfig",
    }
)
"""Converse request members a caller may send as extras, passed as given."""

_IGNORED_EXTRAS = frozenset({"stream", "stream_options"})
"""Extras already honoured: the gateway picks the operation and always counts usage."""

_ECHOED_MESSAGE_FIELDS = frozenset(
    {"refusal", "annotations", "audio", "function_call", "reasoning_content"}
)
"""Fields of an assistant answer that clients send back with it; they are output, not input."""

_NATIVE_BLOCKS = frozenset({"document", "video", "audio", "cachePoint", "guardContent"})
"""Converse content blocks a caller may send as a part of their own (`{"document": {...}}`)."""

_IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}

_UNSUPPORTED = ("seed", "presence_penalty", "frequency_penalty")


def converse_body(params: ChatParams) -> dict[str, Any]:
    """The Converse request for `params` (the model goes in the URL, not the body)."""
    _refuse_unsupported(params)
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for position, message in enumerate(params.messages):
        where = f"messages[{position}]"
        _check_message_fields(message, where)
        if message.role in (ROLE_SYSTEM, ROLE_DEVELOPER):
            system.extend(_system_blocks(message, where))
        elif message.role == ROLE_USER:
            _append(messages, "user", _content_blocks(message, where))
        elif message.role == ROLE_ASSISTANT:
            _append(messages, "assistant", _assistant_blocks(message, where))
        elif message.role == ROLE_TOOL:
            _append(messages, "user", [_tool_result(message, where)])
        else:
            raise InvalidRequest(f"{where}.role is not set", param=f"{where}.role")

    body: dict[str, Any] = {"messages": messages}
    if system:
        body["system"] = system
    inference = _inference_config(params)
    if inference:
        body["inferenceConfig"] = inference
    tool_config = _tool_config(params, messages)
    if tool_config is not None:
        body["toolConfig"] = tool_config
    if params.HasField("user"):
        # Converse's per-call tags, shown in Bedrock's invocation logs: the closest it has.
        body["requestMetadata"] = {"user": params.user}
    output = _output_config(params)
    if output is not None:
        body["outputConfig"] = output
    for key, value in struct_to_dict(params.extras).items():
        if value is None or key in _IGNORED_EXTRAS or key == "stop":
            continue  # null means unset in OpenAI's API; `stop` is read below
        if key not in CONVERSE_FIELDS:
            raise InvalidRequest(f"{key} is not supported by bedrock models", param=key)
        body[key] = value
    return body


def _refuse_unsupported(params: ChatParams) -> None:
    if params.HasField("n") and params.n > 1:
        raise InvalidRequest("bedrock models generate one choice: n must be 1", param="n")
    for name in _UNSUPPORTED:
        if params.HasField(name):  # type: ignore[arg-type]  # names of optional fields
            raise InvalidRequest(f"{name} is not supported by bedrock's Converse API", param=name)
    if params.HasField("parallel_tool_calls") and not params.parallel_tool_calls:
        raise InvalidRequest(
            "parallel_tool_calls=false is not supported by bedrock's Converse API",
            param="parallel_tool_calls",
        )


def _check_message_fields(message: Message, where: str) -> None:
    if message.HasField("name"):
        raise InvalidRequest(
            f"{where}.name is not supported by bedrock models", param=f"{where}.name"
        )
    for key, value in struct_to_dict(message.extras).items():
        if value is None or value == [] or key in _ECHOED_MESSAGE_FIELDS:
            continue
        raise InvalidRequest(
            f"{where}.{key} is not supported by bedrock models", param=f"{where}.{key}"
        )


def _append(messages: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    # Converse wants user and assistant turns to alternate: consecutive turns of one role
    # (several tool results, or a tool result then the user's text) become one turn.
    if messages and messages[-1]["role"] == role:
        messages[-1]["content"].extend(blocks)
    else:
        messages.append({"role": role, "content": blocks})


def _parts(message: Message) -> list[ContentPart] | None:
    return list(message.parts.parts) if message.WhichOneof("content") == "parts" else None


def _system_blocks(message: Message, where: str) -> list[dict[str, Any]]:
    blocks = _content_blocks(message, where)
    for i, block in enumerate(blocks):
        if not ({"text", "cachePoint", "guardContent"} & block.keys()):
            raise InvalidRequest(
                f"{where}.content[{i}]: system messages may hold only text for bedrock models",
                param=f"{where}.content[{i}]",
            )
    return blocks


def _content_blocks(message: Message, where: str) -> list[dict[str, Any]]:
    kind = message.WhichOneof("content")
    if kind == "text":
        return [{"text": message.text}] if message.text else []
    blocks: list[dict[str, Any]] = []
    for i, part in enumerate(_parts(message) or []):
        blocks.extend(_part_blocks(part, f"{where}.content[{i}]"))
    return blocks


def _part_blocks(part: ContentPart, where: str) -> list[dict[str, Any]]:
    kind = part.WhichOneof("part")
    if kind == "text":
        return _with_cache_point({"text": part.text.text}, struct_to_dict(part.text.extras), where)
    if kind == "image_url":
        # `detail` (OpenAI's resolution hint) has no Converse counterpart; the image is sent
        # whole, which is what `high` and `auto` ask for.
        image = part.image_url
        return _with_cache_point(
            {"image": image_block(image.url, f"{where}.image_url.url")},
            struct_to_dict(image.extras),
            where,
        )
    if kind == "other":
        other = struct_to_dict(part.other)
        if len(other) == 1 and next(iter(other)) in _NATIVE_BLOCKS:
            return [other]
        raise InvalidRequest(
            f"{where}: content parts of type {other.get('type')!r} are not supported by bedrock "
            "models",
            param=where,
        )
    raise InvalidRequest(f"{where} is empty", param=where)


def _with_cache_point(
    block: dict[str, Any], extras: dict[str, Any], where: str
) -> list[dict[str, Any]]:
    # Anthropic's `cache_control` on a part means "cache up to here": Converse says it with a
    # cachePoint block right after it.
    blocks = [block]
    for key, value in extras.items():
        if key == "cache_control" and isinstance(value, dict):
            blocks.append({"cachePoint": {"type": "default"}})
        elif value is not None:
            raise InvalidRequest(
                f"{where}.{key} is not supported by bedrock models", param=f"{where}.{key}"
            )
    return blocks


def image_block(url: str, where: str) -> dict[str, Any]:
    """Converse's `image` for a `data:` URL; other URLs are refused (Converse cannot fetch)."""
    if not url.startswith("data:"):
        raise InvalidRequest(
            f"{where}: bedrock models take images only as data: URLs "
            "(data:image/png;base64,...), not links",
            param=where,
        )
    header, sep, data = url[len("data:") :].partition(",")
    media_type, _, encoding = header.partition(";")
    image_format = _IMAGE_FORMATS.get(media_type.lower())
    if not sep or encoding != "base64" or image_format is None:
        raise InvalidRequest(
            f"{where}: must be data:image/(png|jpeg|gif|webp);base64,<data>", param=where
        )
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{where}: the image data is not valid base64", param=where) from None
    # Blobs travel base64-encoded in Converse's JSON: the caller's encoding goes as it is.
    return {"format": image_format, "source": {"bytes": data}}


def _assistant_blocks(message: Message, where: str) -> list[dict[str, Any]]:
    # Converse refuses blank text blocks, which OpenAI clients send beside tool calls.
    blocks = [b for b in _content_blocks(message, where) if b.get("text") != ""]
    for i, call in enumerate(message.tool_calls):
        call_where = f"{where}.tool_calls[{i}]"
        blocks.append(
            {
                "toolUse": {
                    "toolUseId": call.id,
                    "name": call.function.name,
                    "input": arguments_object(call.function.arguments, call_where, "bedrock"),
                }
            }
        )
    return blocks


def _tool_result(message: Message, where: str) -> dict[str, Any]:
    if not message.HasField("tool_call_id"):
        raise InvalidRequest(f"{where}.tool_call_id is required", param=f"{where}.tool_call_id")
    content = _content_blocks(message, where)
    for i, block in enumerate(content):
        if "cachePoint" in block or "guardContent" in block or "audio" in block:
            raise InvalidRequest(
                f"{where}.content[{i}] cannot be part of a tool result for bedrock models",
                param=f"{where}.content[{i}]",
            )
    return {"toolResult": {"toolUseId": message.tool_call_id, "content": content or [{"text": ""}]}}


def _inference_config(params: ChatParams) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if params.HasField("max_completion_tokens"):
        config["maxTokens"] = params.max_completion_tokens
    elif params.HasField("max_tokens"):
        config["maxTokens"] = params.max_tokens
    if params.HasField("temperature"):
        config["temperature"] = params.temperature
    if params.HasField("top_p"):
        config["topP"] = params.top_p
    stop = list(params.stop)
    if not stop:
        single = (
            value_to_python(params.extras.fields["stop"])
            if "stop" in params.extras.fields
            else None
        )
        stop = [single] if isinstance(single, str) else []
    if stop:
        config["stopSequences"] = stop
    return config


def _tool_config(params: ChatParams, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    choice = _tool_choice(params)
    has_tool_blocks = any(
        "toolUse" in block or "toolResult" in block
        for message in messages
        for block in message["content"]
    )
    if choice == "none":
        if has_tool_blocks:
            # Converse needs the tools declared to read earlier calls, and then may call them.
            raise InvalidRequest(
                "tool_choice none is not supported by bedrock models once the conversation "
                "has tool calls",
                param="tool_choice",
            )
        return None  # no tools declared: the model cannot call one
    if not params.tools:
        if choice is not None:
            raise InvalidRequest("tool_choice needs tools", param="tool_choice")
        return None
    config: dict[str, Any] = {
        "tools": [_tool(tool, f"tools[{i}]") for i, tool in enumerate(params.tools)]
    }
    if choice is not None:
        config["toolChoice"] = choice
    return config


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


def _output_config(params: ChatParams) -> dict[str, Any] | None:
    if not params.HasField("response_format"):
        return None
    response_format = params.response_format
    if response_format.type == RESPONSE_FORMAT_TYPE_JSON_OBJECT:
        raise InvalidRequest(
            "response_format json_object is not supported by bedrock models; use json_schema",
            param="response_format",
        )
    if response_format.type != RESPONSE_FORMAT_TYPE_JSON_SCHEMA:
        return None  # text: the default
    schema = response_format.json_schema
    definition: dict[str, Any] = {
        # Converse takes the schema as a JSON string, not an object.
        "schema": json.dumps(struct_to_dict(schema.schema), separators=(",", ":")),
        "name": schema.name,
    }
    if schema.HasField("description"):
        definition["description"] = schema.description
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": definition}}}
