"""Anthropic Messages vocabulary <-> the gateway's, in both directions.

Shared by the inbound Messages API (`codec.anthropic_messages`, `codec.anthropic_stream`) and
core's outbound Anthropic provider (`core/providers/anthropic_*.py`): stop reasons, usage and
image sources are one mapping, read either way.
"""

from __future__ import annotations

from typing import Any

from codec.values import struct_from_dict, struct_to_dict, value_to_python
from gateway.v1 import chat_pb2

__all__ = [
    "TOOL_USE_ID_PREFIX",
    "finish_reason_from_stop",
    "image_source_from_url",
    "image_url_from_source",
    "stop_reason_from_choice",
    "tool_use_id",
    "usage_from_anthropic",
    "usage_to_anthropic",
]

TOOL_USE_ID_PREFIX = "toolu_"

# Anthropic stop_reason -> OpenAI finish_reason; others (e.g. `pause_turn`) pass through raw.
_FINISH_BY_STOP = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# The other way: several stop reasons share a finish reason; this picks Anthropic's default.
_STOP_BY_FINISH: dict[int, str] = {
    chat_pb2.FINISH_REASON_STOP: "end_turn",
    chat_pb2.FINISH_REASON_LENGTH: "max_tokens",
    chat_pb2.FINISH_REASON_TOOL_CALLS: "tool_use",
    chat_pb2.FINISH_REASON_FUNCTION_CALL: "tool_use",
    chat_pb2.FINISH_REASON_CONTENT_FILTER: "refusal",
}
_STOP_REASONS = frozenset({*_FINISH_BY_STOP, "pause_turn"})
_CACHE_KEYS = ("cache_creation_input_tokens", "cache_read_input_tokens")


def finish_reason_from_stop(stop_reason: str) -> str:
    """OpenAI's name for an Anthropic `stop_reason` (unknown ones unchanged)."""
    return _FINISH_BY_STOP.get(stop_reason, stop_reason)


def stop_reason_from_choice(choice: chat_pb2.Choice) -> str:
    """Anthropic's `stop_reason` for a finished choice: a raw reason kept in the choice's
    extras wins when Anthropic has it (`pause_turn`), else the enum's; `end_turn` by default."""
    if "finish_reason" in choice.extras.fields:
        raw = value_to_python(choice.extras.fields["finish_reason"])
        if isinstance(raw, str) and raw in _STOP_REASONS:
            return raw
    return _STOP_BY_FINISH.get(choice.finish_reason, "end_turn")


def usage_from_anthropic(usage: dict[str, Any]) -> chat_pb2.Usage:
    """Anthropic usage; cache token counts and the rest go to the usage extras."""
    input_tokens = int(usage.get("input_tokens") or 0)
    output_tokens = int(usage.get("output_tokens") or 0)
    result = chat_pb2.Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
    )
    rest = {
        key: value
        for key, value in usage.items()
        if key not in ("input_tokens", "output_tokens") and value is not None
    }
    if rest:
        result.extras.CopyFrom(struct_from_dict(rest))
    return result


def usage_to_anthropic(usage: chat_pb2.Usage) -> dict[str, int]:
    """Anthropic's usage object for a call's usage.

    Anthropic counts cache reads apart from `input_tokens`; OpenAI counts them inside
    `prompt_tokens` (`prompt_tokens_details.cached_tokens`), so those are moved out.
    """
    extras = struct_to_dict(usage.extras)
    out = {"input_tokens": int(usage.input_tokens), "output_tokens": int(usage.output_tokens)}
    for key in _CACHE_KEYS:
        value = extras.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = int(value)
    details = extras.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    if "cache_read_input_tokens" not in out and isinstance(cached, int | float) and cached > 0:
        out["cache_read_input_tokens"] = int(cached)
        out["input_tokens"] = max(out["input_tokens"] - int(cached), 0)
    return out


def image_source_from_url(url: str) -> dict[str, Any] | None:
    """Anthropic's image `source` for an OpenAI image URL (a `data:` URL becomes base64);
    None for a `data:` URL that is not `data:<type>;base64,<data>`."""
    if not url.startswith("data:"):
        return {"type": "url", "url": url}
    header, sep, data = url[len("data:") :].partition(",")
    media_type, _, encoding = header.partition(";")
    if not sep or encoding != "base64" or not media_type:
        return None
    return {"type": "base64", "media_type": media_type, "data": data}


def image_url_from_source(source: dict[str, Any]) -> str | None:
    """The OpenAI image URL for an Anthropic image `source` (base64 -> a `data:` URL); None
    for a source of another kind or missing its fields."""
    kind = source.get("type")
    if kind == "url" and isinstance(source.get("url"), str):
        return str(source["url"])
    media_type, data = source.get("media_type"), source.get("data")
    if kind == "base64" and isinstance(media_type, str) and isinstance(data, str):
        return f"data:{media_type};base64,{data}"
    return None


def tool_use_id(call_id: str, fallback: str) -> str:
    """The `tool_use` id for a tool call id: kept when it already has Anthropic's `toolu_`
    prefix (so a client's own ids come back unchanged), else prefixed; `fallback` when empty.

    Requests pass ids through verbatim, so `toolu_call_0` goes to the provider as it is and the
    ids of one conversation stay consistent both ways."""
    if not call_id:
        call_id = fallback
    return call_id if call_id.startswith(TOOL_USE_ID_PREFIX) else TOOL_USE_ID_PREFIX + call_id
