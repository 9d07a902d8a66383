"""Python with LangChain: `ChatOpenAI` from `langchain_openai` pointed at the gateway."""

from __future__ import annotations

from typing import Any

from facade.codegen.literals import python_string
from facade.codegen.pysource import (
    API_KEY,
    argument,
    assignment,
    call_assignment,
    header,
    literal_args,
    metadata_headers,
)
from facade.codegen.spec import ChatSpec

__all__ = ["render"]

CONSTRUCTOR_PARAMS = frozenset(
    {
        "temperature", "max_tokens", "top_p", "n", "seed", "presence_penalty",
        "frequency_penalty", "stop", "logit_bias", "logprobs", "top_logprobs",
    }
)  # fmt: skip
"""Request fields that are `ChatOpenAI` arguments of the same name in every langchain-openai
release; the model, messages, tools and streaming fields have their own places, and any
other field goes in `extra_body`, sent in the JSON body as it is."""

_OWN_PLACES = frozenset({"model", "messages", "tools", "tool_choice", "stream", "stream_options"})


def render(spec: ChatSpec) -> str:
    """The snippet for `spec`."""
    body = spec.body
    arguments = [
        ("model", python_string(body["model"])),
        ("base_url", python_string(spec.base_url)),
        ("api_key", API_KEY),
    ]
    headers = metadata_headers(spec)
    if headers:
        arguments.append(argument("default_headers", headers))
    arguments += literal_args({k: v for k, v in body.items() if k in CONSTRUCTOR_PARAMS})
    if spec.stream and spec.include_usage:
        arguments.append(("stream_usage", "True"))
    extra = {k: v for k, v in body.items() if k not in CONSTRUCTOR_PARAMS and k not in _OWN_PLACES}
    if extra:
        arguments.append(argument("extra_body", extra))
    lines = [
        header("Calls the LLM gateway with LangChain's ChatOpenAI", "pip install langchain-openai"),
        *(["import json"] if spec.has_tools else []),
        "import os",
        "",
        "from langchain_openai import ChatOpenAI",
        "",
        call_assignment("llm", "ChatOpenAI", arguments),
        *_bind_tools(body),
        assignment("messages", body["messages"]),
        "",
    ]
    lines += _read_stream(spec) if spec.stream else _read_answer(spec)
    return "\n".join(lines) + "\n"


def _bind_tools(body: dict[str, Any]) -> list[str]:
    if not body.get("tools"):
        return []
    arguments = [argument("tools", body["tools"])]
    if body.get("tool_choice") is not None:
        arguments.append(argument("tool_choice", body["tool_choice"]))
    return [call_assignment("llm", "llm.bind_tools", arguments)]


def _read_answer(spec: ChatSpec) -> list[str]:
    lines = ["answer = llm.invoke(messages)", "print(answer.content)"]
    if spec.has_tools:
        lines += _print_calls()
    return lines


def _read_stream(spec: ChatSpec) -> list[str]:
    lines = [
        "answer = None",
        "for chunk in llm.stream(messages):",
        '    print(chunk.content, end="", flush=True)',
        "    answer = chunk if answer is None else answer + chunk  # the whole message so far",
        "print()",
    ]
    if spec.has_tools or spec.include_usage:
        lines.append("assert answer is not None")
    if spec.has_tools:
        lines += _print_calls()
    if spec.include_usage:
        lines.append('print(f"usage: {answer.usage_metadata}")')
    return lines


def _print_calls() -> list[str]:
    return [
        "for call in answer.tool_calls:",
        "    print(f\"tool call: {call['name']} {json.dumps(call['args'])}\")",
    ]
