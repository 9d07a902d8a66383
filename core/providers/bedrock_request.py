"""ChatParams -> a Bedrock Converse / ConverseStream request body (pure: no I/O).

What Converse cannot express is refused with InvalidRequest naming the field, never dropped:
sampling knobs it lacks (seed, penalties), `n > 1`, image URLs it cannot fetch, and OpenAI
fields it has no room for. `response_format: json_schema` maps to Converse's own structured
output (`outputConfig.textFormat`); models without it answer Bedrock's own 400.

What Converse refuses but OpenAI clients routinely send is reshaped instead: blank text
blocks (beside tool calls, or an empty answer echoed back) are dropped, a turn left empty is
dropped with them, and an empty tool result gets `EMPTY_TOOL_RESULT`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from codec import struct_to_dict, value_to_python
from core.errors import InvalidRequest
from core.providers.bedrock_tools import tool_config
from core.providers.tool_arguments import arguments_object
from gateway.v1.chat_pb2 import (
    RESPONSE_FORMAT_TYPE_JSON_OBJECT,
    RESPONSE_FORMAT_TYPE_JSON_SCHEMA,
    ROLE_ASSISTANT,
    ROLE_DEVELOPER,
    ROLE_SYSTEM,
    ROLE_TOOL,
    ROLE_USER,
    ChatParams,
    ContentPart,
    Message,
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

EMPTY_TOOL_RESULT = "(empty)"
"""The text of a tool result that has none. Converse refuses blank text, and the result cannot
be left out: every toolUse needs its toolResult in the next user turn. Parenthesised, so the
model reads it as a note about the result rather than as what the tool printed."""

_METADATA_FORBIDDEN = re.compile(r"[^a-zA-Z0-9\s:_@$#=/+,\-.]", re.ASCII)
"""Characters Converse's requestMetadata keys and values may not hold: its pattern, with
Java's ASCII-only whitespace class (hence re.ASCII)."""
_METADATA_MAX_CHARS = 256
_METADATA_MAX_ENTRIES = 16


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
    if not messages:
        raise InvalidRequest(
            "messages: bedrock models need a user or assistant message with content "
            "(blank text is not sent)",
            param="messages",
        )

    body: dict[str, Any] = {"messages": messages}
    if system:
        body["system"] = system
    inference = _inference_config(params)
    if inference:
        body["inferenceConfig"] = inference
    tools = tool_config(params, messages)
    if tools is not None:
        body["toolConfig"] = tools
    output = _output_config(params)
    if output is not None:
        body["outputConfig"] = output
    metadata: dict[str, str] = {}
    for key, value in struct_to_dict(params.extras).items():
        if value is None or key in _IGNORED_EXTRAS or key == "stop":
            continue  # null means unset in OpenAI's API; `stop` is read below
        if key not in CONVERSE_FIELDS:
            raise InvalidRequest(f"{key} is not supported by bedrock models", param=key)
        if key == "requestMetadata":
            metadata = _request_metadata(value)
        else:
            body[key] = value
    if params.HasField("user") and "user" not in metadata and len(metadata) < _METADATA_MAX_ENTRIES:
        # Converse's per-call tags, shown in Bedrock's invocation logs: the closest it has
        # (the caller's own tags come first). A user id is any string to OpenAI, so the
        # characters the tags refuse are replaced and a long one is cut.
        metadata["user"] = _METADATA_FORBIDDEN.sub("_", params.user)[:_METADATA_MAX_CHARS]
    if metadata:
        body["requestMetadata"] = metadata
    return body


def _request_metadata(value: Any) -> dict[str, str]:
    # Bedrock's own field, written for Bedrock: what it would refuse is refused here, naming
    # the entry, rather than altered.
    if not isinstance(value, dict) or len(value) > _METADATA_MAX_ENTRIES:
        raise InvalidRequest(
            f"requestMetadata must be an object of at most {_METADATA_MAX_ENTRIES} entries",
            param="requestMetadata",
        )
    for key, text in value.items():
        where = f"requestMetadata.{key}"
        if not (
            isinstance(text, str)
            and 0 < len(key) <= _METADATA_MAX_CHARS
            and len(text) <= _METADATA_MAX_CHARS
            and not _METADATA_FORBIDDEN.search(key + text)
        ):
            raise InvalidRequest(
                f"{where}: keys (1-256) and values (0-256 characters) may hold only letters, "
                "digits, whitespace and :_@$#=/+,-.",
                param=where,
            )
    return dict(value)


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
    # (several tool results, or a tool result then the user's text) become one turn. A turn
    # with nothing to send (Converse refuses empty content) is dropped before that rule
    # applies, so the turns around it merge and alternation still holds.
    if not blocks:
        return
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
        return [{"text": message.text}] if not _blank(message.text) else []
    blocks: list[dict[str, Any]] = []
    for i, part in enumerate(_parts(message) or []):
        blocks.extend(_part_blocks(part, f"{where}.content[{i}]"))
    return blocks


def _part_blocks(part: ContentPart, where: str) -> list[dict[str, Any]]:
    kind = part.WhichOneof("part")
    if kind == "text":
        blocks = _with_cache_point(
            {"text": part.text.text}, struct_to_dict(part.text.extras), where
        )
        # Converse refuses blank text; a cache point it carried still marks the same place.
        return blocks[1:] if _blank(part.text.text) else blocks
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


def _blank(text: str) -> bool:
    return not text.strip()


def _assistant_blocks(message: Message, where: str) -> list[dict[str, Any]]:
    # Blank text, which OpenAI clients send beside tool calls, is already left out.
    blocks = _content_blocks(message, where)
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
    content = content or [{"text": EMPTY_TOOL_RESULT}]
    return {"toolResult": {"toolUseId": message.tool_call_id, "content": content}}


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
