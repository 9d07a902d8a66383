"""The Playground: answers streamed and not, a tool call answered to continue the
conversation, metadata reaching the log record, and the states of bad input and API errors.

The mock provider answers with the last user or tool message's text, and with a call of every
tool it is given unless the last message is a tool result (core/providers/mock.py).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

from tests.console.seed import ConsoleGateway

CHAT_PATH = "/v1/chat/completions"
LOGS_PATH = "/api/svc/v1/llm-gateway/requests"


def _open(page: Page, gateway: ConsoleGateway) -> None:
    page.goto(f"{gateway.url}/#/playground")
    expect(page.get_by_role("heading", name="Playground")).to_be_visible()
    expect(page.get_by_label("Model", exact=True)).to_be_visible()  # the models are listed


def _chat_requests(page: Page) -> list[Request]:
    """Collects every chat call the page makes, as it makes it."""
    seen: list[Request] = []
    page.on("request", lambda r: seen.append(r) if r.url.endswith(CHAT_PATH) else None)
    return seen


def _turns(page: Page, role: str) -> Any:
    return page.locator(f'.pg-turns > li[data-role="{role}"]:not(.pg-pending)')


def test_non_streaming_answer(
    signed_in: Callable[..., Page], console_gateway: ConsoleGateway
) -> None:
    page = signed_in(1280)
    _open(page, console_gateway)
    page.get_by_label("Model", exact=True).select_option("mock-main/smart")
    page.get_by_label("Message 1 (system)").fill("You are terse.")
    page.get_by_label("Message 2 (user)").fill("Hello, playground")
    page.get_by_label("Stream the answer").uncheck()
    page.get_by_label("Temperature").fill("0.3")
    page.get_by_label("Max tokens").fill("64")
    with page.expect_response(lambda r: r.url.endswith(CHAT_PATH)) as answered:
        page.get_by_role("button", name="Send").click()
    response = answered.value
    assert response.headers["content-type"].startswith("application/json")
    assert response.request.post_data_json == {
        "model": "mock-main/smart",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hello, playground"},
        ],
        "temperature": 0.3,
        "max_tokens": 64,
    }
    expect(_turns(page, "assistant")).to_have_count(1)
    assert _turns(page, "assistant").locator("textarea").input_value() == "Hello, playground"
    usage = page.locator(".pg-usage")
    expect(usage).to_contain_text("finish: stop")
    reported = json.loads(usage.get_attribute("data-usage") or "null")
    assert reported == response.json()["usage"]
    # The conversation continues: a new, empty user turn has the focus.
    expect(page.get_by_label("Message 4 (user)")).to_be_focused()


def test_streamed_tool_call_answered_continues_the_conversation(
    signed_in: Callable[..., Page],
    console_gateway: ConsoleGateway,
    shot: Callable[[Page, str], Path],
) -> None:
    page = signed_in(1280)
    _open(page, console_gateway)
    page.get_by_label("Model", exact=True).select_option("mock-main/echo")
    page.get_by_label("Message 2 (user)").fill("What is the weather in Paris?")
    expect(page.get_by_label("Stream the answer")).to_be_checked()
    page.get_by_role("button", name="Insert an example tool").click()
    sent = _chat_requests(page)

    with page.expect_response(lambda r: r.url.endswith(CHAT_PATH)) as answered:
        page.get_by_role("button", name="Send").click()
    assert answered.value.headers["content-type"].startswith("text/event-stream")
    first = sent[0].post_data_json
    assert first["stream"] is True
    assert first["stream_options"] == {"include_usage": True}
    assert [t["function"]["name"] for t in first["tools"]] == ["get_weather"]

    # The call, structured: its name, id and pretty-printed arguments.
    call = page.locator('.pg-turns .pg-toolcall[data-tool-call-id="call_0"]')
    expect(call.locator(".pg-toolcall-name")).to_have_text("get_weather")
    expect(call.locator(".pg-toolcall-args")).to_have_text(json.dumps({"city": "mock"}, indent=2))
    expect(page.locator(".pg-usage")).to_contain_text("finish: tool_calls")
    assert json.loads(page.locator(".pg-usage").get_attribute("data-usage") or "null")

    # Answer it with a result and send again: the model now answers in text.
    result = page.get_by_label("Result of get_weather (call_0)")
    expect(result).to_be_focused()
    result.fill('{"temperature_c": 21}')
    with page.expect_response(lambda r: r.url.endswith(CHAT_PATH)):
        page.get_by_role("button", name="Send").click()
    expect(_turns(page, "assistant")).to_have_count(2)
    expect(_turns(page, "assistant").nth(1).locator("textarea")).to_have_value(
        '{"temperature_c": 21}'
    )
    second = sent[1].post_data_json
    assert second["messages"][1:] == [
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"mock"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": '{"temperature_c": 21}'},
    ]
    expect(page.locator(".pg-usage")).to_contain_text("finish: stop")
    shot(page, "playground-1280")


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "streamed"])
def test_metadata_reaches_the_log_record(
    signed_in: Callable[..., Page], console_gateway: ConsoleGateway, stream: bool
) -> None:
    page = signed_in(1280)
    _open(page, console_gateway)
    marker = f"pg-{uuid.uuid4().hex[:12]}"
    page.get_by_label("Message 2 (user)").fill("tagged call")
    page.get_by_label("Stream the answer").set_checked(stream)
    page.get_by_role("button", name="Add metadata").click()
    page.get_by_label("Metadata 1 key").fill("customer_id")
    page.get_by_label("Metadata 1 value").fill(marker)
    page.get_by_role("button", name="Add metadata").click()
    page.get_by_label("Metadata 2 key").fill("application")
    page.get_by_label("Metadata 2 value").fill("playground")
    with page.expect_response(lambda r: r.url.endswith(CHAT_PATH)) as answered:
        page.get_by_role("button", name="Send").click()
    response = answered.value
    assert response.ok
    assert "metadata" not in (response.request.post_data_json or {})  # a header, not the body
    expect(_turns(page, "assistant")).to_have_count(1)

    record = _logged(console_gateway, response.headers["x-request-id"])
    assert record["metadata"] == {"customer_id": marker, "application": "playground"}
    assert record["request"]["messages"] == [{"role": "user", "content": "tagged call"}]
    assert record["stream"] is stream


def _logged(gateway: ConsoleGateway, log_id: str, timeout_s: float = 10) -> dict[str, Any]:
    """The log record of `log_id`, once the writer has stored it (it writes in batches)."""
    deadline = time.monotonic() + timeout_s
    headers = {"authorization": f"Bearer {gateway.admin_key}"}
    while True:
        response = httpx.get(f"{gateway.url}{LOGS_PATH}/{log_id}", headers=headers, timeout=10)
        if response.status_code == 200:
            record: dict[str, Any] = response.json()
            return record
        assert response.status_code == 404, response.text
        assert time.monotonic() < deadline, f"{log_id} was not logged"
        time.sleep(0.05)  # polls a condition; GATEWAY_LOG_FLUSH_INTERVAL_SECONDS is 0.05


def test_bad_json_schema_and_tools_are_refused_before_sending(
    signed_in: Callable[..., Page],
    console_gateway: ConsoleGateway,
    shot: Callable[[Page, str], Path],
) -> None:
    page = signed_in(390)
    _open(page, console_gateway)
    sent = _chat_requests(page)
    page.get_by_label("Message 2 (user)").fill("Answer in JSON")
    page.get_by_label("Response format").select_option("json_schema")
    page.get_by_label("JSON schema").fill('{"type": "object", "properties": ')
    page.get_by_label("Tools (JSON array of function definitions)").fill('[{"type": "function"}]')
    page.get_by_role("button", name="Send").click()
    problems = page.locator(".pg-problems")
    expect(problems).to_contain_text("the JSON schema is not valid JSON")
    expect(problems).to_contain_text("Tool 1 needs a function name")
    expect(page.get_by_label("JSON schema")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("JSON schema")).to_be_focused()
    shot(page, "playground-390-invalid")

    # Fixed, the same request goes out with the schema as response_format.
    page.get_by_label("JSON schema").fill('{"type": "object"}')
    page.get_by_label("Tools (JSON array of function definitions)").fill("")
    page.get_by_label("Stream the answer").uncheck()
    with page.expect_response(lambda r: r.url.endswith(CHAT_PATH)):
        page.get_by_role("button", name="Send").click()
    expect(problems).to_be_empty()
    assert len(sent) == 1
    assert sent[0].post_data_json["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": {"type": "object"}},
    }
    expect(_turns(page, "assistant")).to_have_count(1)
    shot(page, "playground-390")


def test_api_error_is_shown_with_its_message(
    signed_in: Callable[..., Page], console_gateway: ConsoleGateway
) -> None:
    page = signed_in(1280)
    _open(page, console_gateway)
    page.get_by_label("Message 2 (user)").fill("deep tools")
    # A tool schema nested past the gateway's 32 levels: a 400 naming the field.
    deep: dict[str, Any] = {"type": "object"}
    for _ in range(40):
        deep = {"type": "object", "properties": {"x": deep}}
    tools = [{"type": "function", "function": {"name": "deep", "parameters": deep}}]
    page.get_by_label("Tools (JSON array of function definitions)").fill(json.dumps(tools))
    with page.expect_response(lambda r: r.url.endswith(CHAT_PATH)) as answered:
        page.get_by_role("button", name="Send").click()
    assert answered.value.status == 400
    message = answered.value.json()["error"]["message"]
    error = page.locator(".pg-outcome .state-error")
    expect(error).to_contain_text(message)
    expect(error).to_contain_text("HTTP 400")
    # Nothing was added to the conversation; the request can be fixed and sent again.
    expect(_turns(page, "assistant")).to_have_count(0)
    expect(page.get_by_role("button", name="Send")).to_be_enabled()


def test_get_code_carries_the_request_to_the_code_page(
    signed_in: Callable[..., Page], console_gateway: ConsoleGateway
) -> None:
    page = signed_in(1280)
    _open(page, console_gateway)
    page.get_by_label("Model", exact=True).select_option("mock-main/echo")
    page.get_by_label("Message 2 (user)").fill("for the snippet")
    page.get_by_role("button", name="Add metadata").click()
    page.get_by_label("Metadata 1 key").fill("application")
    page.get_by_label("Metadata 1 value").fill("snippets")
    page.get_by_role("button", name="Get code").click()
    expect(page).to_have_url(f"{console_gateway.url}/#/code")
    shown = json.loads(page.locator(".code-request pre").text_content() or "null")
    assert shown == {
        "model": "mock-main/echo",
        "messages": [{"role": "user", "content": "for the snippet"}],
        "metadata": {"application": "snippets"},
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    # Back in the playground, the form is as it was left.
    page.get_by_role("button", name="Back to the Playground").click()
    expect(page.get_by_label("Message 2 (user)")).to_have_value("for the snippet")
    expect(page.get_by_label("Metadata 1 value")).to_have_value("snippets")
