"""The Code page: every tab shows what the codegen API answers for the same request, the tabs
work from the keyboard, and the copy button puts the snippet on the clipboard."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.seed import WEATHER_TOOL, ConsoleGateway

CODEGEN_PATH = "/api/svc/v1/llm-gateway/codegen"
# (tab id, label, language, library): the eight snippets the issue lists.
TABS = [
    ("python-openai", "Python · OpenAI SDK", "python", "openai"),
    ("python-requests", "Python · requests", "python", "requests"),
    ("python-langchain", "Python · LangChain", "python", "langchain"),
    ("javascript-openai", "JavaScript · OpenAI SDK", "javascript", "openai"),
    ("typescript-openai", "TypeScript · OpenAI SDK", "typescript", "openai"),
    ("javascript-fetch", "JavaScript · fetch", "javascript", "fetch"),
    ("curl", "curl", "curl", None),
    ("python-grpc", "Python · gRPC", "python", "grpc"),
]


def _codegen(
    gateway: ConsoleGateway, request: dict[str, Any], language: str, library: str | None
) -> dict[str, Any]:
    response = httpx.post(
        gateway.url + CODEGEN_PATH,
        json={"request": request, "language": language, "library": library},
        headers={"authorization": f"Bearer {gateway.user_key}"},
        timeout=10,
    )
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def _shown_request(page: Page) -> dict[str, Any]:
    # The request is in a closed <details>: its text is there, not rendered.
    request: dict[str, Any] = json.loads(page.locator(".code-request pre").text_content() or "")
    return request


def _open(page: Page, gateway: ConsoleGateway) -> None:
    page.goto(f"{gateway.url}/#/code")
    expect(page.get_by_role("heading", name="Code", exact=True)).to_be_visible()
    expect(page.get_by_role("tab")).to_have_count(len(TABS))


def _assert_tabs_match_the_api(
    page: Page, gateway: ConsoleGateway, request: dict[str, Any]
) -> None:
    panel = page.get_by_role("tabpanel")
    for tab_id, label, language, library in TABS:
        page.get_by_role("tab", name=label, exact=True).click()
        expect(page.get_by_role("tab", name=label, exact=True)).to_have_attribute(
            "aria-selected", "true"
        )
        expect(panel).to_have_attribute("data-tab", tab_id)
        expect(panel).to_have_attribute("aria-busy", "false")
        answer = _codegen(gateway, request, language, library)
        assert panel.locator("pre.code-snippet code").text_content() == answer["code"], tab_id
        expect(panel.locator(".code-filename")).to_have_text(answer["filename"])
        expect(panel.locator(".code-hints")).to_contain_text(
            f"export {answer['api_key_env']}=<your API key>"
        )
        expect(page).to_have_url(f"{gateway.url}/#/code?tab={tab_id}")


def test_example_request_tabs_match_the_api(
    signed_in: Callable[..., Page],
    console_gateway: ConsoleGateway,
    shot: Callable[[Page, str], Path],
) -> None:
    page = signed_in(1280, console_gateway.user_key)
    _open(page, console_gateway)
    expect(page.locator(".code-source")).to_contain_text("an example request")
    request = _shown_request(page)
    assert request["model"] == "mock-main/echo"
    _assert_tabs_match_the_api(page, console_gateway, request)
    page.get_by_role("tab", name="Python · OpenAI SDK").click()
    expect(page.get_by_role("tabpanel")).to_have_attribute("aria-busy", "false")
    shot(page, "code-1280")


def test_playground_request_with_tools_and_metadata(
    signed_in: Callable[..., Page], console_gateway: ConsoleGateway
) -> None:
    page = signed_in(1280)
    page.goto(f"{console_gateway.url}/#/playground")
    page.get_by_label("Model", exact=True).select_option("mock-main/smart")
    page.get_by_label("Message 1 (system)").fill('Say "hi" \\ `twice` $(no)')
    page.get_by_label("Message 2 (user)").fill("line one\nline two </script>")
    page.get_by_label("Top P").fill("0.5")
    page.get_by_label("Stop sequences (one per line)").fill("END\nSTOP")
    page.get_by_label("Tools (JSON array of function definitions)").fill(json.dumps([WEATHER_TOOL]))
    page.get_by_role("button", name="Add metadata").click()
    page.get_by_label("Metadata 1 key").fill("customer_id")
    page.get_by_label("Metadata 1 value").fill("c-42")
    page.get_by_role("button", name="Get code").click()
    expect(page.get_by_role("tab")).to_have_count(len(TABS))
    expect(page.locator(".code-source")).to_contain_text("the request of the Playground")
    request = _shown_request(page)
    assert request == {
        "model": "mock-main/smart",
        "messages": [
            {"role": "system", "content": 'Say "hi" \\ `twice` $(no)'},
            {"role": "user", "content": "line one\nline two </script>"},
        ],
        "top_p": 0.5,
        "stop": ["END", "STOP"],
        "tools": [WEATHER_TOOL],
        "metadata": {"customer_id": "c-42"},
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    _assert_tabs_match_the_api(page, console_gateway, request)


def test_tabs_from_the_keyboard(
    signed_in: Callable[..., Page], console_gateway: ConsoleGateway
) -> None:
    page = signed_in(1280)
    _open(page, console_gateway)
    tabs = page.get_by_role("tab")
    first = tabs.nth(0)
    expect(first).to_have_attribute("aria-selected", "true")
    expect(first).to_have_attribute("tabindex", "0")
    expect(tabs.nth(1)).to_have_attribute("tabindex", "-1")  # one tab stop for the list
    first.focus()
    page.keyboard.press("ArrowRight")
    expect(tabs.nth(1)).to_be_focused()
    expect(tabs.nth(1)).to_have_attribute("aria-selected", "true")
    expect(first).to_have_attribute("aria-selected", "false")
    page.keyboard.press("End")
    expect(tabs.nth(len(TABS) - 1)).to_be_focused()
    page.keyboard.press("ArrowRight")  # wraps around
    expect(first).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(tabs.nth(len(TABS) - 1)).to_be_focused()
    panel = page.get_by_role("tabpanel")
    expect(panel).to_have_attribute("data-tab", "python-grpc")
    expect(panel).to_have_attribute("aria-busy", "false")
    # Tab leaves the list for the panel.
    page.keyboard.press("Tab")
    expect(panel).to_be_focused()
    # The tab is in the URL: a reload shows it again.
    page.reload()
    expect(page.get_by_role("tab", name="Python · gRPC")).to_have_attribute("aria-selected", "true")


@pytest.mark.parametrize("width", [1280, 390])
def test_copy_button_puts_the_snippet_on_the_clipboard(
    signed_in: Callable[..., Page],
    console_gateway: ConsoleGateway,
    shot: Callable[[Page, str], Path],
    width: int,
) -> None:
    page = signed_in(width)
    page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=console_gateway.url
    )
    _open(page, console_gateway)
    page.get_by_role("tab", name="curl", exact=True).click()
    panel = page.get_by_role("tabpanel")
    expect(panel).to_have_attribute("aria-busy", "false")
    expect(panel).to_have_attribute("data-tab", "curl")
    code = panel.locator("pre.code-snippet code").text_content()
    assert code == _codegen(console_gateway, _shown_request(page), "curl", None)["code"]
    button = panel.locator("button.copy")  # its name changes to "Copied"
    expect(button).to_have_text("Copy code")
    button.click()
    expect(button).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == code
    if width == 390:
        # The snippet scrolls inside its box; the page itself does not scroll sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        shot(page, "code-390")
