"""Hypothesis strategies for chat responses: provider JSON and ChatResult protos."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from gateway.v1 import chat_pb2
from tests.codec.strategies import extras, json_values, nullable, text, with_extras

FINISH_REASONS = ["stop", "length", "tool_calls", "content_filter", "function_call"]
counts = st.integers(0, 2**31)

provider_tool_calls = st.fixed_dictionaries(
    {
        "id": text,
        "type": st.just("function"),
        "function": st.fixed_dictionaries({"name": text, "arguments": text}),
    }
)
provider_messages = with_extras(
    st.fixed_dictionaries(
        {"role": st.just("assistant"), "content": nullable(text), "refusal": nullable(text)},
        optional={
            "tool_calls": st.lists(provider_tool_calls, max_size=2),
            "annotations": st.lists(json_values, max_size=1),
        },
    ),
    "role",
    "content",
    "refusal",
    "name",
    "tool_calls",
    "tool_call_id",
)
provider_choices = with_extras(
    st.fixed_dictionaries(
        {
            "index": st.integers(0, 8),
            "message": provider_messages,
            "finish_reason": nullable(st.sampled_from(FINISH_REASONS) | text),
            "logprobs": nullable(json_values),
        }
    ),
    "index",
    "message",
    "finish_reason",
    "logprobs",
)
usages = with_extras(
    st.fixed_dictionaries(
        {"prompt_tokens": counts, "completion_tokens": counts, "total_tokens": counts},
        optional={"prompt_tokens_details": st.fixed_dictionaries({"cached_tokens": counts})},
    ),
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_tokens_details",
)
_RESULT_KEYS = ("id", "object", "created", "model", "choices", "usage")
provider_responses = with_extras(
    st.fixed_dictionaries(
        {
            "id": text,
            "object": st.just("chat.completion"),
            "created": st.integers(0, 2**33),
            "model": text,
            "choices": st.lists(provider_choices, max_size=2),
            "usage": usages,
        },
        optional={"system_fingerprint": nullable(text), "service_tier": text},
    ),
    *_RESULT_KEYS,
    "system_fingerprint",
    "service_tier",
)


@st.composite
def chat_results(draw: st.DrawFn) -> chat_pb2.ChatResult:
    """ChatResults as core assembles them, with the odd extras a provider passed through."""
    result = chat_pb2.ChatResult(id=draw(text), model=draw(text))
    result.create_time.seconds = draw(st.integers(0, 2**33))
    for index in range(draw(st.integers(0, 3))):
        choice = result.choices.add(index=index, finish_reason=draw(st.integers(0, 5)))
        message = choice.message
        message.role = draw(st.sampled_from([chat_pb2.ROLE_UNSPECIFIED, chat_pb2.ROLE_ASSISTANT]))
        content = draw(nullable(text))
        if content is not None:
            message.text = content
        for _ in range(draw(st.integers(0, 2))):
            call = message.tool_calls.add(
                id=draw(text), type=draw(st.sampled_from(["function", ""]))
            )
            call.function.name = draw(text)
            call.function.arguments = draw(text)
        _update(choice.extras, draw(extras("index", "message", "finish_reason", "logprobs")))
        if draw(st.booleans()):
            choice.extras["finish_reason"] = draw(text)
    result.usage.input_tokens = draw(counts)
    result.usage.output_tokens = draw(counts)
    result.usage.total_tokens = result.usage.input_tokens + result.usage.output_tokens
    _update(result.usage.extras, draw(extras("prompt_tokens", "completion_tokens", "total_tokens")))
    _update(result.extras, draw(extras(*_RESULT_KEYS)))
    return result


def _update(struct: Any, values: dict[str, Any]) -> None:
    if values:
        struct.update(values)
