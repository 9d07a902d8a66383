"""Requests the codegen tests generate snippets for, and strings that try to escape a literal."""

from __future__ import annotations

from typing import Any

from facade.codegen.spec import ChatSpec, parse_chat_request

BASE_URL = "http://gateway.test:8080/api/inference/openai"
GRPC_TARGET = "gateway.test:50051"

HOSTILE = [
    "it's",
    'say "hi"',
    "'''",
    '"""',
    "back\\slash",
    "\\n is not a newline",
    "two\nlines\r\nand CRLF",
    "tab\there",
    "$(touch pwned)",
    "`touch pwned`",
    "${HOME} $HOME",
    "'; touch pwned; echo '",
    '"); process.exit(1); ("',
    "</script><script>alert(1)</script><!--",
    "\u2028 and \u2029",
    "\u202e bidi override",
    "nul \x00 escape \x1b[31m del \x7f",
    "🚀 é ß 中文",
    "#{x} %s {0} {{y}}",
    "\\'",
    '\\"',
    "",
]
"""Each one must come out of every snippet's literal exactly as it went in."""

METADATA = {"application": "codegen-test", "quote": 'it\'s "quoted"'}
"""The metadata of the requests run against a gateway."""

E2E_TEXT = 'it\'s "quoted" \\ $(echo pwned) `echo pwned` ${HOME} </script> é 🚀'
"""A message the mock provider echoes back, so a snippet's output shows it survived."""

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
MOCK_ARGUMENTS = {"city": "mock", "days": 1}
"""What the mock provider calls WEATHER_TOOL with."""


def variant(name: str, metadata: dict[str, str] | None = None) -> dict[str, Any]:
    """A chat request: `text`, `stream`, `tools` or `tools_stream`, with `metadata` if given."""
    request: dict[str, Any] = {
        "model": "mock-main/echo",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": E2E_TEXT},
        ],
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 64,
        "stop": ["\n\nEND"],
        "seed": 7,
        "response_format": {"type": "text"},
    }
    if name.startswith("tools"):
        request["tools"] = [WEATHER_TOOL]
        request["tool_choice"] = "auto"
    if name.endswith("stream"):
        request["stream"] = True
        request["stream_options"] = {"include_usage": True}
    if metadata:
        request["metadata"] = metadata
    return request


VARIANTS = ("text", "stream", "tools", "tools_stream")


def hostile_request() -> dict[str, Any]:
    """A request with a hostile string in every place a caller's value can reach."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": text} for text in HOSTILE]
    messages += [
        {"role": "user", "content": [{"type": "text", "text": HOSTILE[6]}], "name": HOSTILE[0]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": HOSTILE[1],
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "$(x)\'"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": HOSTILE[1], "content": HOSTILE[8]},
    ]
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": HOSTILE[13],
            "parameters": {
                "type": "object",
                "properties": {text: {"type": "string"} for text in HOSTILE},
            },
        },
    }
    return {
        "model": "mock-main/echo",
        "messages": messages,
        "tools": [tool],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "stop": HOSTILE[:4],
        "user": HOSTILE[10],
        "logit_bias": {"50256": -100},
        "temperature": 0.5,
        "n": 1,
        "__proto__": {"polluted": True},
        HOSTILE[11]: HOSTILE[12],
        "metadata": {text or "empty": text for text in HOSTILE},
    }


def spec_of(request: dict[str, Any]) -> ChatSpec:
    """The spec a generator gets for `request`, at BASE_URL and GRPC_TARGET."""
    return parse_chat_request(request, base_url=BASE_URL, grpc_target=GRPC_TARGET)
