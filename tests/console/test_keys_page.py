"""The keys page (the admin key only), in a real browser: create, rotate and revoke."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.seed import ConsoleGateway, create_key

KEYS = "/api/svc/v1/keys"


@pytest.fixture
def admin(console_gateway: ConsoleGateway) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=console_gateway.url,
        headers={"authorization": f"Bearer {console_gateway.admin_key}"},
    ) as client:
        yield client


def works(console_gateway: ConsoleGateway, secret: str) -> bool:
    response = httpx.get(
        f"{console_gateway.url}/v1/models", headers={"authorization": f"Bearer {secret}"}
    )
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


def key_of(admin: httpx.Client, subject: str) -> dict[str, Any]:
    found = admin.get(KEYS, params={"subject": subject, "include_revoked": "true"}).json()["data"]
    assert len(found) == 1, found
    key: dict[str, Any] = found[0]
    return key


def test_create_shows_the_secret_once_then_revoke(
    signed_in: Callable[..., Page], console_gateway: ConsoleGateway, admin: httpx.Client
) -> None:
    subject = f"user:carol-{uuid.uuid4().hex[:8]}@example.com"
    page = signed_in(1280, route="/keys")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_label("Subject").fill(subject)
    page.get_by_label("Teams", exact=True).fill("ml, search")
    page.get_by_label("Models").fill("mock-main/echo")
    page.get_by_role("button", name="Create key").click()

    box = page.get_by_role("region", name="New secret")
    expect(box).to_contain_text(f"Created a key for {subject}")
    secret = box.locator("code").inner_text()
    assert secret.startswith("gw-")
    assert works(console_gateway, secret)
    box.get_by_role("button", name="Copy key").click()
    expect(box.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == secret

    stored = key_of(admin, subject)
    assert stored["teams"] == ["team:ml", "team:search"]
    assert stored["models"] == ["mock-main/echo"]
    row = page.locator("tbody tr", has_text=subject)
    expect(row).to_contain_text(stored["id"])
    expect(row).to_contain_text("active")
    box.get_by_role("button", name="Done").click()
    expect(box).to_have_count(0)
    assert secret not in page.content()  # shown once: not in the list, not after a reload
    page.reload()
    expect(page.locator("tbody tr", has_text=subject)).to_be_visible()
    assert secret not in page.content()

    row = page.locator("tbody tr", has_text=subject)
    row.get_by_role("button", name="Revoke").click()
    dialog = page.get_by_role("dialog", name="Revoke this key?")
    expect(dialog).to_contain_text(subject)
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert works(console_gateway, secret)

    row.get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog", name="Revoke this key?").get_by_role("button", name="Revoke").click()
    expect(page.locator("tbody tr", has_text=subject)).to_have_count(0)  # revoked keys hidden
    assert not works(console_gateway, secret)
    assert key_of(admin, subject)["revoked_at"] is not None
    page.get_by_label("Show revoked").check()
    expect(page.locator("tbody tr", has_text=subject)).to_contain_text("revoked")
    expect(page.locator("tbody tr", has_text=subject).get_by_role("button")).to_have_count(0)


def test_rotate_shows_the_new_secret_and_stops_the_old_one(
    signed_in: Callable[..., Page], console_gateway: ConsoleGateway, admin: httpx.Client
) -> None:
    subject = f"virtualaccount:bot-{uuid.uuid4().hex[:8]}"
    old = create_key(admin, subject)
    page = signed_in(390, route="/keys")
    row = page.locator("tbody tr", has_text=subject)
    row.get_by_role("button", name="Rotate").click()
    page.get_by_role("dialog", name="Rotate this key?").get_by_role("button", name="Rotate").click()
    box = page.get_by_role("region", name="New secret")
    expect(box).to_contain_text(f"Rotated a key for {subject}")
    new = box.locator("code").inner_text()
    assert new.startswith("gw-")
    assert new != old
    assert works(console_gateway, new)
    assert not works(console_gateway, old)


def test_a_bad_key_request_shows_the_api_error(signed_in: Callable[..., Page]) -> None:
    page = signed_in(1280, route="/keys")
    page.get_by_label("Subject").fill("not-a-subject")
    page.get_by_role("button", name="Create key").click()
    error = page.get_by_role("alert")
    expect(error).to_contain_text("HTTP 400")
    expect(page.get_by_role("region", name="New secret")).to_have_count(0)


@pytest.mark.parametrize("width", [1280, 390])
def test_screenshots_of_the_keys_page(
    signed_in: Callable[..., Page], shot: Callable[[Page, str], Path], width: int
) -> None:
    page = signed_in(width, route="/keys")
    page.get_by_label("Subject").fill(f"user:screenshot-{width}@example.com")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("region", name="New secret")).to_be_visible()
    expect(page.locator("tbody tr").first).to_be_visible()
    shot(page, f"keys-{width}")
