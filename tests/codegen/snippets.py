"""Getting snippets from a running gateway's codegen API, and reading what they print."""

from __future__ import annotations

import json
from typing import Any

import httpx

from facade.codegen.spec import GRPC_TARGET_ENV
from tests.codegen.cases import E2E_TEXT, MOCK_ARGUMENTS
from tests.harness import RunningGateway

CODEGEN_PATH = "/api/svc/v1/llm-gateway/codegen"


def generate(
    gateway: RunningGateway, request: dict[str, Any], language: str, library: str | None
) -> tuple[str, str]:
    """(code, filename) of the gateway's snippet for `request`."""
    body: dict[str, Any] = {"request": request, "language": language, "library": library}
    response = httpx.post(
        gateway.http_url + CODEGEN_PATH,
        json=body,
        headers={"authorization": f"Bearer {gateway.admin_key}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    return answer["code"], answer["filename"]


def snippet_env(gateway: RunningGateway) -> dict[str, str]:
    """What a user of `gateway` sets besides the key: the gRPC address (its port is random)."""
    return {GRPC_TARGET_ENV: gateway.grpc_target}


def assert_printed(stdout: str, variant: str) -> None:
    """A Python or JavaScript snippet printed the mock's answer to `variant` (cases.variant)."""
    lines = stdout.splitlines()
    if variant.startswith("tools"):
        (call,) = [line for line in lines if line.startswith("tool call: ")]
        name, _, arguments = call.removeprefix("tool call: ").partition(" ")
        assert (name, json.loads(arguments)) == ("get_weather", MOCK_ARGUMENTS), stdout
    else:
        assert E2E_TEXT in lines, stdout
    if variant.endswith("stream"):
        (usage,) = [line for line in lines if line.startswith("usage: ")]
        assert "total_tokens" in usage, stdout


def assert_curl_printed(stdout: str, variant: str) -> None:
    """The curl snippet printed the mock's JSON answer, or its server-sent events."""
    if variant.endswith("stream"):
        events = [line.removeprefix("data: ") for line in stdout.splitlines() if line]
        assert events[-1] == "[DONE]", stdout
        chunks = [json.loads(event) for event in events[:-1]]
        assert chunks[-1]["usage"]["total_tokens"] > 0
        deltas = [choice["delta"] for chunk in chunks for choice in chunk["choices"]]
        calls = [call for delta in deltas for call in delta.get("tool_calls", [])]
        text = "".join(delta.get("content") or "" for delta in deltas)
    else:
        message = json.loads(stdout)["choices"][0]["message"]
        calls = message.get("tool_calls") or []
        text = message.get("content") or ""
    if variant.startswith("tools"):
        (call,) = calls
        assert call["function"]["name"] == "get_weather"
        assert json.loads(call["function"]["arguments"]) == MOCK_ARGUMENTS
    else:
        assert text == E2E_TEXT
