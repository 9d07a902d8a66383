"""Hypothesis strategies for OpenAI chat JSON, shaped like what clients and providers send."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

MAX_SAFE = 2**53
INT64 = st.integers(-(2**63), 2**63 - 1)
text = st.text(max_size=8)
names = st.text(min_size=1, max_size=8)
numbers = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-1000, 1000)

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE, MAX_SAFE)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=6,
)


def extras(*modeled: str) -> st.SearchStrategy[dict[str, Any]]:
    """Unknown keys for a level whose modeled keys are `modeled`."""
    keys = text.filter(lambda key: key not in modeled)
    return st.dictionaries(keys, json_values, max_size=2)


def with_extras(
    fields: st.SearchStrategy[dict[str, Any]], *modeled: str
) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda typed, extra: {**extra, **typed}, fields, extras(*modeled))


def nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


json_schema_objects = st.fixed_dictionaries(
    {
        "type": st.just("object"),
        "properties": st.dictionaries(
            names,
            st.fixed_dictionaries(
                {"type": st.sampled_from(["string", "integer", "number", "boolean"])},
                optional={"description": text, "enum": st.lists(text, max_size=2)},
            ),
            max_size=3,
        ),
    },
    optional={"required": st.lists(names, max_size=2), "additionalProperties": st.booleans()},
)

text_parts = with_extras(
    st.fixed_dictionaries({"type": st.just("text")}, optional={"text": nullable(text)}),
    "type",
    "text",
)
image_parts = st.fixed_dictionaries(
    {
        "type": st.just("image_url"),
        "image_url": with_extras(
            st.fixed_dictionaries(
                {"url": st.just("https://x.test/a.png") | text},
                optional={"detail": nullable(st.sampled_from(["auto", "low", "high"]))},
            ),
            "url",
            "detail",
        ),
    }
)
odd_parts = (
    # Shapes that travel whole in ContentPart.other.
    st.fixed_dictionaries({"type": st.just("image_url"), "image_url": nullable(text)})
    | with_extras(
        st.fixed_dictionaries({"type": text.filter(lambda t: t not in ("text", "image_url"))}),
        "type",
    )
    | st.builds(lambda part, extra: {**part, "cache_control": extra}, image_parts, json_values)
)
parts = st.lists(text_parts | image_parts | odd_parts, max_size=3)

function_calls = with_extras(
    st.fixed_dictionaries({}, optional={"name": nullable(text), "arguments": nullable(text)}),
    "name",
    "arguments",
)
tool_calls = with_extras(
    st.fixed_dictionaries(
        {},
        optional={
            "id": nullable(text),
            "type": nullable(st.just("function") | text),
            "function": nullable(function_calls),
        },
    ),
    "id",
    "type",
    "function",
)
_MESSAGE_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id")
messages = with_extras(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "user", "assistant", "tool", "developer"])},
        optional={
            "content": st.none() | text | parts,
            "name": nullable(text),
            "tool_calls": nullable(st.lists(tool_calls, max_size=2)),
            "tool_call_id": nullable(text),
        },
    ),
    *_MESSAGE_KEYS,
)

functions = with_extras(
    st.fixed_dictionaries(
        {"name": text},
        optional={
            "description": nullable(text),
            "parameters": nullable(json_schema_objects),
            "strict": nullable(st.booleans()),
        },
    ),
    "name",
    "description",
    "parameters",
    "strict",
)
tools = with_extras(
    st.fixed_dictionaries(
        {}, optional={"type": nullable(st.just("function") | text), "function": nullable(functions)}
    ),
    "type",
    "function",
)
tool_choices = (
    st.sampled_from(["none", "auto", "required"])
    | st.fixed_dictionaries(
        {"type": st.just("function"), "function": st.fixed_dictionaries({"name": text})}
    )
    | json_values
)
json_schemas = with_extras(
    st.fixed_dictionaries(
        {},
        optional={
            "name": nullable(text),
            "description": nullable(text),
            "schema": nullable(json_schema_objects),
            "strict": nullable(st.booleans()),
        },
    ),
    "name",
    "description",
    "schema",
    "strict",
)
response_formats = with_extras(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "json_object", "json_schema"])},
        optional={"json_schema": nullable(json_schemas)},
    ),
    "type",
    "json_schema",
) | with_extras(
    st.fixed_dictionaries(
        {"type": text.filter(lambda t: t not in ("text", "json_object", "json_schema"))}
    ),
    "type",
)

_PARAM_KEYS = (
    "model", "messages", "tools", "tool_choice", "temperature", "top_p", "max_tokens",
    "max_completion_tokens", "stop", "n", "seed", "presence_penalty", "frequency_penalty",
    "response_format", "user", "parallel_tool_calls",
)  # fmt: skip
chat_requests = with_extras(
    st.fixed_dictionaries(
        {"model": names, "messages": st.lists(messages, min_size=1, max_size=3)},
        optional={
            "tools": nullable(st.lists(tools, max_size=2)),
            "tool_choice": nullable(tool_choices),
            "temperature": nullable(numbers),
            "top_p": nullable(numbers),
            "max_tokens": nullable(INT64),
            "max_completion_tokens": nullable(INT64),
            "stop": st.none() | text | st.lists(text, max_size=3),
            "n": nullable(INT64),
            "seed": nullable(INT64),
            "presence_penalty": nullable(numbers),
            "frequency_penalty": nullable(numbers),
            "response_format": nullable(response_formats),
            "user": nullable(text),
            "parallel_tool_calls": nullable(st.booleans()),
            # Well-known fields we deliberately leave to extras.
            "stream": nullable(st.booleans()),
            "stream_options": nullable(st.fixed_dictionaries({"include_usage": st.booleans()})),
            "logit_bias": st.dictionaries(names, st.integers(-100, 100), max_size=2),
            "metadata": st.dictionaries(names, text, max_size=2),
            "reasoning_effort": st.sampled_from(["low", "medium", "high"]),
        },
    ),
    *_PARAM_KEYS,
    "stream",
    "stream_options",
    "logit_bias",
    "metadata",
    "reasoning_effort",
)
