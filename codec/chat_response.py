"""Chat completion response JSON (`chat.completion`) <-> ChatResult, Usage and finish reasons."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from codec.errors import CodecError, rejects_surrogates
from codec.fields import INT32_MAX, as_int, as_list, as_str, json_type
from codec.messages import fill_message, message_to_json
from codec.values import fill_struct, merge_extras, value_to_python
from gateway.v1 import chat_pb2

_FINISH_FROM_STR: dict[str, chat_pb2.FinishReason.ValueType] = {
    "stop": chat_pb2.FINISH_REASON_STOP,
    "length": chat_pb2.FINISH_REASON_LENGTH,
    "tool_calls": chat_pb2.FINISH_REASON_TOOL_CALLS,
    "content_filter": chat_pb2.FINISH_REASON_CONTENT_FILTER,
    "function_call": chat_pb2.FINISH_REASON_FUNCTION_CALL,
}
_FINISH_TO_STR: dict[int, str] = {number: name for name, number in _FINISH_FROM_STR.items()}


def finish_reason_from_str(value: str | None) -> tuple[chat_pb2.FinishReason.ValueType, str | None]:
    """The enum for an OpenAI finish_reason, plus the raw string when it is not one we model."""
    if value is None:
        return chat_pb2.FINISH_REASON_UNSPECIFIED, None
    reason = _FINISH_FROM_STR.get(value)
    if reason is None:
        return chat_pb2.FINISH_REASON_UNSPECIFIED, value
    return reason, None


def finish_reason_to_str(reason: chat_pb2.FinishReason.ValueType) -> str | None:
    """OpenAI's string for `reason`; None for UNSPECIFIED."""
    return _FINISH_TO_STR.get(reason)


def choice_finish_reason(choice: chat_pb2.Choice) -> Any:
    """A choice's finish_reason for output: a raw string kept in extras wins over the enum."""
    if "finish_reason" in choice.extras.fields:
        return value_to_python(choice.extras.fields["finish_reason"])
    return _FINISH_TO_STR.get(choice.finish_reason)


def usage_to_json(usage: chat_pb2.Usage) -> dict[str, Any]:
    out = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }
    return merge_extras(out, usage.extras)


@rejects_surrogates
def usage_from_json(data: Mapping[str, Any] | None) -> chat_pb2.Usage:
    """Usage from a provider; lenient: missing counts are 0, a missing total is the sum."""
    usage = chat_pb2.Usage()
    fill_usage(usage, data)
    return usage


def fill_usage(usage: chat_pb2.Usage, data: Mapping[str, Any] | None) -> None:
    usage.SetInParent()
    if data is None:
        return
    if not isinstance(data, Mapping):
        raise CodecError(f"`usage` must be an object, got {json_type(data)}", "usage")
    extras: dict[str, Any] = {}
    total = None
    for key, value in data.items():
        if key == "prompt_tokens":
            usage.input_tokens = _count(value, key)
        elif key == "completion_tokens":
            usage.output_tokens = _count(value, key)
        elif key == "total_tokens":
            total = _count(value, key)
        else:
            extras[key] = value
    usage.total_tokens = usage.input_tokens + usage.output_tokens if total is None else total
    if extras:
        fill_struct(usage.extras, extras, "usage")


def chat_result_to_json(result: chat_pb2.ChatResult) -> dict[str, Any]:
    """The OpenAI `chat.completion` object for `result`."""
    out = {
        "id": result.id,
        "object": "chat.completion",
        "created": result.create_time.seconds,
        "model": result.model,
        "choices": [_choice_to_json(choice) for choice in result.choices],
        "usage": usage_to_json(result.usage),
    }
    return merge_extras(out, result.extras)


@rejects_surrogates
def chat_result_from_json(body: Mapping[str, Any]) -> chat_pb2.ChatResult:
    """A provider's `chat.completion` response; lenient where providers differ."""
    if not isinstance(body, Mapping):
        raise CodecError("the response body must be a JSON object")
    result = chat_pb2.ChatResult()
    extras: dict[str, Any] = {}
    for key, value in body.items():
        if key == "id":
            result.id = "" if value is None else as_str(value, "", key)
        elif key == "model":
            result.model = "" if value is None else as_str(value, "", key)
        elif key == "created":
            if value is not None:
                result.create_time.seconds = as_int(value, "", key)
        elif key == "choices":
            if value is not None:
                for i, item in enumerate(as_list(value, "", key)):
                    _fill_choice(result.choices.add(), item, f"choices[{i}]")
        elif key == "usage":
            fill_usage(result.usage, value)
        elif key != "object":
            extras[key] = value
    result.usage.SetInParent()  # always set, even when the provider sent none
    if extras:
        fill_struct(result.extras, extras, None)
    return result


def response_message_to_json(msg: chat_pb2.Message) -> dict[str, Any]:
    """An assistant message in OpenAI's response shape: every field the SDKs read is present."""
    out = message_to_json(msg)
    out.setdefault("role", "assistant")
    out.setdefault("content", None)
    out.setdefault("refusal", None)
    if msg.tool_calls:
        for call in out["tool_calls"]:
            call.setdefault("id", "")
            call.setdefault("type", "function")
            function = call.get("function")
            if isinstance(function, dict):
                function.setdefault("name", "")
                function.setdefault("arguments", "")
    return out


def _choice_to_json(choice: chat_pb2.Choice) -> dict[str, Any]:
    out = {"index": choice.index, "message": response_message_to_json(choice.message)}
    merge_extras(out, choice.extras)
    if "finish_reason" not in out:
        out["finish_reason"] = _FINISH_TO_STR.get(choice.finish_reason)
    out.setdefault("logprobs", None)
    return out


def _fill_choice(choice: chat_pb2.Choice, data: Any, where: str) -> None:
    if not isinstance(data, dict):
        raise CodecError(f"`{where}` must be an object, got {json_type(data)}", where)
    extras: dict[str, Any] = {}
    for key, value in data.items():
        if key == "index":
            choice.index = as_int(value, where, key, 0, INT32_MAX)
        elif key == "message" and value is not None:
            fill_message(choice.message, value, f"{where}.message", chat_pb2.ROLE_ASSISTANT)
        elif key == "finish_reason" and isinstance(value, str):
            choice.finish_reason, raw = finish_reason_from_str(value)
            if raw is not None:
                extras[key] = raw
        elif key != "finish_reason" or value is not None:
            extras[key] = value
    if extras:
        fill_struct(choice.extras, extras, where)


def _count(value: Any, key: str) -> int:
    return 0 if value is None else as_int(value, "usage", key, 0)
