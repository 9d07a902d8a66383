"""The console's shell in a real browser: the key prompt, the session, the router, the nav."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.browsing import go
from tests.console.seed import ConsoleGateway, create_key

REFUSED = "Your key was refused (expired or revoked?). Paste a key again."
STORAGE_KEY = "llm-gateway-key"


def stored_key(page: Page) -> str | None:
    key: str | None = page.evaluate("name => sessionStorage.getItem(name)", STORAGE_KEY)
    return key


def test_a_bad_key_is_refused_with_a_message(console_page: Callable[..., Page]) -> None:
    page = console_page(1280)
    with page.expect_response("**/v1/models") as answer:
        page.get_by_label("API key").fill("gw-not-a-key-of-this-gateway")
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 401
    assert answer.value.request.headers["authorization"] == "Bearer gw-not-a-key-of-this-gateway"
    expect(page.locator("#key-message")).to_have_text(
        "That key was refused: it is unknown, expired or revoked."
    )
    expect(page.get_by_role("navigation", name="Console")).to_be_hidden()
    assert stored_key(page) is None


def test_the_key_lives_in_session_storage_only(
    signed_in: Callable[..., Page], console_gateway: ConsoleGateway
) -> None:
    page = signed_in(1280, route="/logs")
    assert stored_key(page) == console_gateway.admin_key
    assert page.evaluate("() => document.cookie") == ""
    assert page.evaluate("() => localStorage.length") == 0
    assert page.context.cookies() == []
    assert console_gateway.admin_key not in page.url
    # A reload keeps the session (same tab); every API call carries the key as a header.
    with page.expect_request("**/api/svc/v1/llm-gateway/requests") as sent:
        page.reload()
    assert sent.value.headers["authorization"] == f"Bearer {console_gateway.admin_key}"
    assert console_gateway.admin_key not in sent.value.url
    expect(page.get_by_role("heading", name="Request logs")).to_be_visible()


def test_the_default_route_is_metrics_and_unknown_routes_go_there(
    signed_in: Callable[..., Page],
) -> None:
    page = signed_in(1280)
    expect(page).to_have_url(re.compile(r"#/metrics(\?.*)?$"))
    nav = page.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link", name="Metrics")).to_have_attribute("aria-current", "page")
    go(page, "/nowhere")
    expect(page).to_have_url(re.compile(r"#/metrics(\?.*)?$"))


def test_the_nav_routes_and_marks_the_current_page(signed_in: Callable[..., Page]) -> None:
    page = signed_in(1280, route="/logs")
    nav = page.get_by_role("navigation", name="Console")
    nav.get_by_role("link", name="Keys").click()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    expect(nav.get_by_role("link", name="Keys")).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="Logs")).not_to_have_attribute("aria-current", "page")
    page.go_back()
    expect(page.get_by_role("heading", name="Request logs")).to_be_visible()


def test_keys_are_in_the_nav_of_the_admin_key_only(
    signed_in: Callable[..., Page], console_gateway: ConsoleGateway
) -> None:
    admin = signed_in(1280, route="/logs")
    expect(
        admin.get_by_role("navigation", name="Console").get_by_role("link", name="Keys")
    ).to_be_visible()
    user = signed_in(1280, key=console_gateway.user_key, route="/logs")
    nav = user.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link", name="Logs")).to_be_visible()
    expect(nav.get_by_role("link", name="Keys")).to_be_hidden()
    # The logs page done first: a route change while it still loads raced it (seen once).
    expect(user.locator("#announcer")).to_have_text("Logs loaded")
    go(user, "/keys")
    expect(user.get_by_role("alert")).to_contain_text("Only the admin key can manage API keys.")


def test_a_key_revoked_mid_session_returns_to_the_prompt(
    signed_in: Callable[..., Page], console_gateway: ConsoleGateway
) -> None:
    with httpx.Client(
        base_url=console_gateway.url,
        headers={"authorization": f"Bearer {console_gateway.admin_key}"},
    ) as admin:
        secret = create_key(admin, "user:revoked-mid-session@example.com")
        page = signed_in(1280, key=secret, route="/logs")
        expect(page.get_by_role("heading", name="Request logs")).to_be_visible()
        key_id = admin.get(
            "/api/svc/v1/keys", params={"subject": "user:revoked-mid-session@example.com"}
        ).json()["data"][0]["id"]
        assert admin.delete(f"/api/svc/v1/keys/{key_id}").status_code == 200
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#key-message")).to_have_text(REFUSED)
    expect(page.get_by_label("API key")).to_be_focused()
    expect(page.get_by_role("navigation", name="Console")).to_be_hidden()
    assert stored_key(page) is None
    # Signing in again (with a good key) goes back to where the user was.
    page.get_by_label("API key").fill(console_gateway.admin_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Request logs")).to_be_visible()


def test_sign_out_forgets_the_key(signed_in: Callable[..., Page]) -> None:
    page = signed_in(390, route="/logs")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#key-message")).to_have_text("Signed out.")
    assert stored_key(page) is None
    page.reload()
    expect(page.get_by_label("API key")).to_be_visible()


def test_the_prompt_and_nav_work_from_the_keyboard(
    console_page: Callable[..., Page], console_gateway: ConsoleGateway
) -> None:
    page = console_page(1280, "/logs")
    expect(page.get_by_label("API key")).to_be_focused()
    page.keyboard.type(console_gateway.admin_key)
    page.keyboard.press("Enter")
    nav = page.get_by_role("navigation", name="Console")
    expect(nav).to_be_visible()
    expect(page.get_by_role("heading", name="Request logs")).to_be_visible()
    nav.get_by_role("link", name="Keys").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    expect(page.locator("main")).to_be_focused()  # the new page has the focus


@pytest.mark.parametrize("width", [1280, 390])
def test_screenshots_of_the_prompt(
    console_page: Callable[..., Page], shot: Callable[[Page, str], Path], width: int
) -> None:
    page = console_page(width)
    page.get_by_label("API key").fill("gw-wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#key-message")).to_contain_text("refused")
    assert shot(page, f"sign-in-{width}").stat().st_size > 0
