"""Streamed `chat.completion.chunk` JSON <-> ChatDelta, in both directions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from codec.chat_response import choice_finish_reason, fill_usage, usage_to_json
from codec.errors import CodecError, rejects_surrogates
from codec.fields import INT32_MAX, as_int, as_list, as_object, as_str, json_type
from codec.messages import ROLE_FROM_STR, ROLE_TO_STR
from codec.values import fill_struct, merge_extras
from gateway.v1 import chat_pb2

_CHUNK_KEYS = frozenset({"id", "object", "created", "model", "choices", "usage"})


@dataclass(slots=True)
class ParsedChunk:
    """What one provider chunk says, in gateway terms."""

    deltas: list[chat_pb2.ChatDelta]
    finish_reasons: dict[int, str]
    """Choice index -> the raw finish_reason string of the chunk."""
    usage: chat_pb2.Usage | None
    extras: dict[str, Any]
    """Chunk-level fields other than id/object/created/model/choices/usage."""


def chunk_to_json(
    delta: chat_pb2.ChatDelta, *, completion_id: str, model: str, created: int
) -> dict[str, Any]:
    """One OpenAI `chat.completion.chunk`; only the fields set in `delta` appear in "delta"."""
    out: dict[str, Any] = {}
    role = ROLE_TO_STR.get(delta.role)
    if role is not None:
        out["role"] = role
    if delta.HasField("content"):
        out["content"] = delta.content
    if delta.tool_calls:
        out["tool_calls"] = [_tool_call_delta_to_json(call) for call in delta.tool_calls]
    merge_extras(out, delta.extras)
    choice = {"index": delta.choice_index, "delta": out, "logprobs": None, "finish_reason": None}
    return _chunk(completion_id, model, created, [choice])


def finish_chunks_to_json(
    result: chat_pb2.ChatResult, *, completion_id: str, model: str, created: int
) -> list[dict[str, Any]]:
    """One chunk per choice with an empty delta and its finish_reason, as a stream ends."""
    return [
        _chunk(
            completion_id,
            model,
            created,
            [
                {
                    "index": choice.index,
                    "delta": {},
                    "logprobs": None,
                    "finish_reason": choice_finish_reason(choice),
                }
            ],
        )
        for choice in result.choices
    ]


def usage_chunk_to_json(
    result: chat_pb2.ChatResult, *, completion_id: str, model: str, created: int
) -> dict[str, Any]:
    """The last chunk under `stream_options.include_usage`: no choices, only usage."""
    out = _chunk(completion_id, model, created, [])
    out["usage"] = usage_to_json(result.usage)
    return out


@rejects_surrogates
def parse_chunk_json(chunk: Mapping[str, Any]) -> ParsedChunk:
    """Read a provider's streamed chunk; choices with an empty delta yield no ChatDelta.

    Null-valued delta keys (`"content": null`, `"refusal": null`, ...) count as absent, and
    choice-level `logprobs` are dropped: the gateway does not stream logprobs.
    """
    if not isinstance(chunk, dict | Mapping):  # dict first: the ABC check is slow
        raise CodecError("a stream chunk must be a JSON object")
    parsed = ParsedChunk(deltas=[], finish_reasons={}, usage=None, extras={})
    for key, value in chunk.items():
        if key == "choices":
            if value is not None:
                for i, choice in enumerate(as_list(value, "", key)):
                    _parse_choice(choice, i, parsed)
        elif key == "usage":
            if value is not None:
                parsed.usage = chat_pb2.Usage()
                fill_usage(parsed.usage, value)
        elif key not in _CHUNK_KEYS:
            parsed.extras[key] = value
    return parsed


def _chunk(completion_id: str, model: str, created: int, choices: list[Any]) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": choices,
    }


def _tool_call_delta_to_json(call: chat_pb2.ToolCallDelta) -> dict[str, Any]:
    out: dict[str, Any] = {"index": call.index}
    if call.HasField("id"):
        out["id"] = call.id
    if call.HasField("type"):
        out["type"] = call.type
    # OpenAI always sends "function"; stream accumulators read it unguarded.
    function: dict[str, Any] = {}
    if call.HasField("name"):
        function["name"] = call.name
    if call.HasField("arguments"):
        function["arguments"] = call.arguments
    out["function"] = function
    return out


def _parse_choice(data: Any, position: int, parsed: ParsedChunk) -> None:
    where = f"choices[{position}]"
    if not isinstance(data, dict):
        raise CodecError(f"`{where}` must be an object, got {json_type(data)}", where)
    index = data.get("index")
    index = position if index is None else as_int(index, where, "index", 0, INT32_MAX)
    reason = data.get("finish_reason")
    if isinstance(reason, str):
        parsed.finish_reasons[index] = reason
    delta = data.get("delta")
    if delta:
        parsed_delta = _parse_delta(as_object(delta, where, "delta"), index, f"{where}.delta")
        if parsed_delta is not None:
            parsed.deltas.append(parsed_delta)


def _parse_delta(data: dict[str, Any], index: int, where: str) -> chat_pb2.ChatDelta | None:
    delta = chat_pb2.ChatDelta(choice_index=index)
    extras: dict[str, Any] = {}
    found = False
    for key, value in data.items():
        if value is None:
            continue  # providers pad deltas with nulls
        if key == "content":
            delta.content = as_str(value, where, key)
            found = True
        elif key == "tool_calls":
            for j, item in enumerate(as_list(value, where, key)):
                _fill_tool_call_delta(delta.tool_calls.add(), item, j, f"{where}.tool_calls[{j}]")
                found = True
        elif key == "role":
            role = ROLE_FROM_STR.get(value) if isinstance(value, str) else None
            if role is not None:
                delta.role = role
                found = True
        else:
            extras[key] = value
    if extras:
        fill_struct(delta.extras, extras, where)
    elif not found:
        return None
    return delta


def _fill_tool_call_delta(
    call: chat_pb2.ToolCallDelta, data: Any, position: int, where: str
) -> None:
    if not isinstance(data, dict):
        raise CodecError(f"`{where}` must be an object, got {json_type(data)}", where)
    index = data.get("index")
    # Some OpenAI-compatible servers leave out the index; their list position stands in.
    call.index = position if index is None else as_int(index, where, "index", 0, INT32_MAX)
    call_id = data.get("id")
    if call_id is not None:
        call.id = as_str(call_id, where, "id")
    call_type = data.get("type")
    if call_type is not None:
        call.type = as_str(call_type, where, "type")
    function = data.get("function")
    if function is not None:
        function = as_object(function, where, "function")
        name = function.get("name")
        if name is not None:
            call.name = as_str(name, f"{where}.function", "name")
        arguments = function.get("arguments")
        if arguments is not None:
            call.arguments = as_str(arguments, f"{where}.function", "arguments")
