"""Python with the OpenAI SDK: `client.chat.completions.create(...)` against the gateway."""

from __future__ import annotations

from facade.codegen.literals import python_string
from facade.codegen.pysource import (
    API_KEY,
    KNOWN_CHAT_PARAMS,
    argument,
    call_assignment,
    header,
    literal_args,
    metadata_headers,
    split_known,
)
from facade.codegen.spec import ChatSpec

__all__ = ["render"]


def render(spec: ChatSpec) -> str:
    """The snippet for `spec`."""
    known, extra = split_known(spec.body, KNOWN_CHAT_PARAMS)
    arguments = literal_args(known)
    headers = metadata_headers(spec)
    if headers:
        arguments.append(argument("extra_headers", headers))
    if extra:
        arguments.append(argument("extra_body", extra))
    client = call_assignment(
        "client", "OpenAI", [("base_url", python_string(spec.base_url)), ("api_key", API_KEY)]
    )
    name = "stream" if spec.stream else "completion"
    lines = [
        header("Calls the LLM gateway with the OpenAI SDK", "pip install openai"),
        "import os",
        "",
        "from openai import OpenAI",
        "",
        client,
        "",
        call_assignment(name, "client.chat.completions.create", arguments),
    ]
    lines += _read_stream(spec) if spec.stream else _read_completion(spec)
    return "\n".join(lines) + "\n"


def _read_completion(spec: ChatSpec) -> list[str]:
    lines = [
        "for choice in completion.choices:",
        "    if choice.message.content is not None:",
        "        print(choice.message.content)",
    ]
    if spec.has_tools:
        lines += [
            "    for call in choice.message.tool_calls or []:",
            '        print(f"tool call: {call.function.name} {call.function.arguments}")',
        ]
    return lines


def _read_stream(spec: ChatSpec) -> list[str]:
    lines = ["usage = None"] if spec.include_usage else []
    if spec.has_tools:
        lines.append("calls: dict[int, list[str]] = {}  # index -> [name, arguments]")
    lines.append("for chunk in stream:")
    if spec.include_usage:
        lines += [
            "    if chunk.usage is not None:  # the last chunk",
            "        usage = chunk.usage",
        ]
    lines += [
        "    for choice in chunk.choices:",
        "        if choice.delta.content:",
        '            print(choice.delta.content, end="", flush=True)',
    ]
    if spec.has_tools:
        lines += [
            "        for delta in choice.delta.tool_calls or []:",
            '            name_and_arguments = calls.setdefault(delta.index, ["", ""])',
            "            if delta.function is not None:",
            '                name_and_arguments[0] += delta.function.name or ""',
            '                name_and_arguments[1] += delta.function.arguments or ""',
        ]
    lines.append("print()")
    if spec.has_tools:
        lines += [
            "for name, arguments in calls.values():",
            '    print(f"tool call: {name} {arguments}")',
        ]
    if spec.include_usage:
        lines += ["if usage is not None:", '    print(f"usage: {usage.model_dump_json()}")']
    return lines
