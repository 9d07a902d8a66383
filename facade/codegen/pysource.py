"""Pieces of Python source shared by the Python snippets, laid out as ruff formats them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from facade.codegen.literals import WIDTH, python_literal
from facade.codegen.spec import API_KEY_ENV, METADATA_HEADER, ChatSpec

__all__ = [
    "API_KEY",
    "BEARER",
    "KNOWN_CHAT_PARAMS",
    "Argument",
    "argument",
    "assignment",
    "call",
    "call_assignment",
    "header",
    "literal_args",
    "metadata_headers",
    "split_known",
]

API_KEY = f'os.environ["{API_KEY_ENV}"]'
"""The expression reading the key: a missing variable fails with KeyError naming it."""

BEARER = f"f\"Bearer {{os.environ['{API_KEY_ENV}']}}\""
"""The `Authorization` header's value, as an expression."""

KNOWN_CHAT_PARAMS = frozenset(
    {
        "model", "messages", "frequency_penalty", "logit_bias", "logprobs",
        "max_completion_tokens", "max_tokens", "n", "parallel_tool_calls", "presence_penalty",
        "response_format", "seed", "stop", "stream", "stream_options", "temperature",
        "tool_choice", "tools", "top_logprobs", "top_p", "user",
    }
)  # fmt: skip
"""Keyword arguments of `chat.completions.create` in every openai 1.x release; any other
field goes in `extra_body`, which the SDK merges into the JSON body as it is."""

Argument = tuple[str, str]
"""A keyword argument: its name and the source of its value."""


def header(summary: str, install: str, *extra: str) -> str:
    """The module docstring: what the file does, what to install, which variable to set."""
    lines = [
        f"{summary} ({install}).",
        "",
        f"Set {API_KEY_ENV} to a gateway API key, then run this file.",
        *extra,
    ]
    return '"""' + "\n".join(lines).rstrip() + '\n"""\n'


def split_known(
    body: dict[str, Any], known: frozenset[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`body`'s fields named in `known` (in body order), and the others."""
    return (
        {k: v for k, v in body.items() if k in known},
        {k: v for k, v in body.items() if k not in known},
    )


def argument(name: str, value: Any, indent: int = 0) -> Argument:
    """A keyword argument whose value is the JSON value `value`, of a call at `indent`."""
    return name, python_literal(value, indent + 4, len(name) + 2)


def literal_args(values: dict[str, Any], indent: int = 0) -> list[Argument]:
    """Keyword arguments whose values are `values`, as Python literals."""
    return [argument(name, value, indent) for name, value in values.items()]


def call_assignment(name: str, function: str, arguments: Sequence[Argument]) -> str:
    """`name = function(...)` at the top level of a module."""
    return f"{name} = {call(function, arguments, 0, len(name) + 3)}"


def assignment(name: str, value: Any) -> str:
    """`name = <value>` at the top level of a module."""
    return f"{name} = {python_literal(value, 0, len(name) + 3)}"


def call(function: str, arguments: Sequence[Argument], indent: int = 0, extra: int = 0) -> str:
    """`function(name=value, ...)` as ruff lays it out: on one line when it fits (with `extra`
    other characters on the line), else the arguments on one line of their own, else one
    argument per line."""
    joined = ", ".join(f"{name}={value}" for name, value in arguments)
    flat = f"{function}({joined})"
    if indent + extra + len(flat) <= WIDTH and "\n" not in flat:
        return flat
    inner = " " * (indent + 4)
    if len(inner) + len(joined) <= WIDTH and "\n" not in joined:
        return f"{function}(\n{inner}{joined}\n{' ' * indent})"
    lines = "".join(f"{inner}{name}={value},\n" for name, value in arguments)
    return f"{function}(\n{lines}{' ' * indent})"


def metadata_headers(spec: ChatSpec) -> dict[str, str]:
    """`{"X-TFY-METADATA": ...}` when the call has metadata, else empty."""
    value = spec.metadata_header
    return {} if value is None else {METADATA_HEADER: value}
