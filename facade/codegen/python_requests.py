"""Python with `requests`: the chat completion as a plain JSON POST (server-sent events when
streaming)."""

from __future__ import annotations

from facade.codegen.literals import python_string
from facade.codegen.pysource import BEARER, assignment, header, metadata_headers
from facade.codegen.spec import ChatSpec

__all__ = ["render"]


def render(spec: ChatSpec) -> str:
    """The snippet for `spec`."""
    headers = "".join(
        f"    {python_string(name)}: {python_string(value)},\n"
        for name, value in metadata_headers(spec).items()
    )
    lines = [
        header(
            "Calls the LLM gateway's chat completions API with requests", "pip install requests"
        ),
        *(["import json"] if spec.stream else []),
        "import os",
        "",
        "import requests",
        "",
        f"URL = {python_string(spec.chat_url)}",
        f'HEADERS = {{\n    "Authorization": {BEARER},\n{headers}}}',
        assignment("BODY", spec.body),
        "",
    ]
    lines += _read_stream(spec) if spec.stream else _read_completion(spec)
    return "\n".join(lines) + "\n"


def _read_completion(spec: ChatSpec) -> list[str]:
    lines = [
        "response = requests.post(URL, headers=HEADERS, json=BODY, timeout=600)",
        "if not response.ok:",
        '    raise SystemExit(f"{response.status_code}: {response.text}")',
        'for choice in response.json()["choices"]:',
        '    message = choice["message"]',
        '    if message.get("content") is not None:',
        '        print(message["content"])',
    ]
    if spec.has_tools:
        lines += [
            '    for call in message.get("tool_calls") or []:',
            '        function = call["function"]',
            "        print(f\"tool call: {function['name']} {function['arguments']}\")",
        ]
    return lines


def _read_stream(spec: ChatSpec) -> list[str]:
    lines = ["usage = None"] if spec.include_usage else []
    if spec.has_tools:
        lines.append("calls: dict[int, list[str]] = {}  # index -> [name, arguments]")
    lines += [
        "with requests.post(",
        "    URL, headers=HEADERS, json=BODY, stream=True, timeout=600",
        ") as response:",
        "    if not response.ok:",
        '        raise SystemExit(f"{response.status_code}: {response.text}")',
        "    for line in response.iter_lines():  # server-sent events: `data: <json>`",
        '        if not line.startswith(b"data: "):',
        "            continue",
        '        data = line.removeprefix(b"data: ")',
        '        if data == b"[DONE]":',
        "            break",
        "        chunk = json.loads(data)",
        '        if "error" in chunk:  # a failure after the stream started',
        '            raise SystemExit(chunk["error"]["message"])',
    ]
    if spec.include_usage:
        lines += [
            '        if chunk.get("usage"):  # the last chunk',
            '            usage = chunk["usage"]',
        ]
    lines += [
        '        for choice in chunk["choices"]:',
        '            delta = choice["delta"]',
        '            if delta.get("content"):',
        '                print(delta["content"], end="", flush=True)',
    ]
    if spec.has_tools:
        lines += [
            '            for piece in delta.get("tool_calls") or []:',
            '                name_and_arguments = calls.setdefault(piece["index"], ["", ""])',
            '                function = piece.get("function") or {}',
            '                name_and_arguments[0] += function.get("name") or ""',
            '                name_and_arguments[1] += function.get("arguments") or ""',
        ]
    lines.append("print()")
    if spec.has_tools:
        lines += [
            "for name, arguments in calls.values():",
            '    print(f"tool call: {name} {arguments}")',
        ]
    if spec.include_usage:
        lines += ["if usage is not None:", '    print(f"usage: {json.dumps(usage)}")']
    return lines
