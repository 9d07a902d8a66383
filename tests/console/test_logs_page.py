"""The logs page and a log's detail, in a real browser, against the log API's own answers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

from tests.console.browsing import go
from tests.console.seed import ALICE, XSS_MESSAGE, XSS_METADATA, ConsoleGateway

LOGS = "/api/svc/v1/llm-gateway/requests"
ROWS = ".log-results tbody tr"


@pytest.fixture
def admin(console_gateway: ConsoleGateway) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=console_gateway.url,
        headers={"authorization": f"Bearer {console_gateway.admin_key}"},
    ) as client:
        yield client


def is_log_query(request: Request) -> bool:
    return request.method == "POST" and request.url.endswith(LOGS)


def body_of(request: Request) -> dict[str, Any]:
    """The JSON body the page sent."""
    body = request.post_data_json
    assert isinstance(body, dict), body
    return body


def table_rows(page: Page) -> list[dict[str, Any]]:
    """Each row of the logs table: the record id its link opens, and its cells' text."""
    rows: list[dict[str, Any]] = page.locator(ROWS).evaluate_all(
        """rows => rows.map(row => ({
            id: decodeURIComponent(row.querySelector("a").getAttribute("href").slice("#/logs/".length)),
            cells: [...row.cells].map(cell => cell.innerText.trim()),
        }))"""
    )
    return rows


def replay(admin: httpx.Client, request: Request) -> list[dict[str, Any]]:
    """The records the log API answers to the query the page sent (same filter, same period)."""
    response = admin.post(LOGS, json=request.post_data_json)
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["data"]
    return records


def assert_rows_match(page: Page, records: list[dict[str, Any]]) -> None:
    expect(page.locator(ROWS)).to_have_count(len(records))
    rows = table_rows(page)
    assert [row["id"] for row in rows] == [record["id"] for record in records]
    for row, record in zip(rows, records, strict=True):
        _, model, user, status, tokens_in, tokens_out, cost, _, _, metadata = row["cells"]
        resolved = record["resolved_model"]
        shown_model = (
            record["model"]
            if resolved in ("", record["model"])
            else f"{record['model']} → {resolved}"
        )
        assert model == shown_model
        assert user == record["user"]
        assert status == (
            "success" if record["status"] == "success" else f"error {record['http_status']}"
        )
        assert tokens_in == f"{record['usage']['input_tokens']:,}"
        assert tokens_out == f"{record['usage']['output_tokens']:,}"
        assert float(cost.removeprefix("$").replace(",", "")) == pytest.approx(
            record["cost"], rel=1e-5
        )
        for key, value in record["metadata"].items():
            assert f"{key} = {value}" in metadata


def test_the_table_matches_the_log_api_for_a_filter(
    signed_in: Callable[..., Page], admin: httpx.Client
) -> None:
    page = signed_in(1280, route="/logs")
    expect(page.locator(ROWS).first).to_be_visible()
    with page.expect_request(is_log_query) as sent:
        page.get_by_role("button", name="Add filter").click()
        page.get_by_label("Filter 1 value").fill("mock-main/smart")
        page.get_by_label("Filter 1 value").press("Enter")
    query = body_of(sent.value)
    assert query["filter"]["model"] == [
        {"key": "model", "value": "mock-main/smart", "operator": "EQ"}
    ]
    records = replay(admin, sent.value)
    assert len(records) >= 11  # 8 + 2 of the seed's calls asked for it, 1 fell back from it
    assert_rows_match(page, records)
    assert any("→ mock-backup/echo" in row["cells"][1] for row in table_rows(page))
    expect(page).to_have_url(re.compile(r"[?&]model=mock-main%2Fsmart(&|$)"))


def test_filters_land_in_the_url_and_a_reload_restores_them(
    signed_in: Callable[..., Page], admin: httpx.Client
) -> None:
    page = signed_in(1280, route="/logs")
    expect(page.locator(ROWS).first).to_be_visible()
    page.get_by_role("button", name="Add filter").click()
    page.get_by_label("Filter 1 field").select_option("user")
    page.get_by_label("Filter 1 value").fill(ALICE)
    page.get_by_label("Filter 1 value").press("Enter")
    expect(page).to_have_url(re.compile(r"user=user%3Aalice%40example.com"))
    page.get_by_role("button", name="Add filter").click()
    page.get_by_label("Filter 2 field").select_option("metadata")
    page.get_by_label("Filter 2 metadata key").fill("customer_id")
    with page.expect_request(is_log_query) as sent:
        page.get_by_label("Filter 2 value").fill("c-1")
        page.get_by_label("Filter 2 value").press("Enter")
    expect(page).to_have_url(re.compile(r"metadata.customer_id=c-1"))
    records = replay(admin, sent.value)
    assert len(records) == 6  # alice's calls tagged customer_id c-1
    assert_rows_match(page, records)

    with page.expect_request(is_log_query) as again:
        page.reload()
    assert body_of(again.value)["filter"]["user"] == body_of(sent.value)["filter"]["user"]
    expect(page.get_by_label("Filter 1 value")).to_have_value(ALICE)
    expect(page.get_by_label("Filter 2 metadata key")).to_have_value("customer_id")
    expect(page.get_by_label("Filter 2 value")).to_have_value("c-1")
    assert_rows_match(page, replay(admin, again.value))


def test_a_shared_url_applies_its_filters(
    signed_in: Callable[..., Page], admin: httpx.Client
) -> None:
    with_filters = "/logs?model=mock-main/echo&status=error&period=7d"
    page = signed_in(1280, route=with_filters)
    expect(page.get_by_label("Filter 1 value")).to_have_value("mock-main/echo")
    expect(page.get_by_label("Filter 2 value")).to_have_value("error")
    expect(page.get_by_role("combobox", name="Period")).to_have_value("7d")
    with page.expect_request(is_log_query) as sent:
        page.get_by_role("button", name="Refresh").click()
    records = replay(admin, sent.value)
    assert len(records) >= 4
    assert {record["status"] for record in records} == {"error"}
    assert_rows_match(page, records)


def test_sorting_and_paging_ask_the_api(
    signed_in: Callable[..., Page], admin: httpx.Client
) -> None:
    page = signed_in(1280, route="/logs")
    expect(page.locator(ROWS).first).to_be_visible()
    header = page.get_by_role("button", name="Tokens in")
    with page.expect_request(is_log_query) as sent:
        header.click()
    assert body_of(sent.value)["sort"] == [{"key": "input_tokens", "order": "ASC"}]
    expect(page).to_have_url(re.compile(r"sort=input_tokens%3Aasc"))
    expect(page.locator("th", has=header)).to_have_attribute("aria-sort", "ascending")
    assert_rows_match(page, replay(admin, sent.value))
    with page.expect_request(is_log_query) as resorted:  # from the keyboard, too
        page.get_by_role("button", name="Tokens in").focus()
        page.keyboard.press("Enter")
    assert body_of(resorted.value)["sort"] == [{"key": "input_tokens", "order": "DESC"}]
    expect(page.get_by_role("button", name="Tokens in")).to_be_focused()

    with page.expect_request(is_log_query) as next_page:
        page.get_by_role("button", name="Next").click()
    assert body_of(next_page.value)["offset"] == 25
    expect(page).to_have_url(re.compile(r"offset=25"))
    expect(page.get_by_role("navigation", name="Pages")).to_contain_text("26–")
    assert_rows_match(page, replay(admin, next_page.value))


def test_a_row_opens_its_detail_from_mouse_and_keyboard(
    signed_in: Callable[..., Page], console_gateway: ConsoleGateway
) -> None:
    page = signed_in(1280, route="/logs?model=mock-main/smart")
    first = page.locator(ROWS).first
    expect(first).to_be_visible()
    record_id = table_rows(page)[0]["id"]
    first.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Request {record_id}")).to_be_visible()
    page.get_by_role("link", name="← All requests").click()
    expect(page).to_have_url(re.compile(r"#/logs\?.*model=mock-main%2Fsmart"))
    page.locator(ROWS).nth(1).locator("td").nth(2).click()
    expect(page.get_by_role("heading", level=1, name=re.compile(r"^Request "))).to_be_visible()


def test_a_tool_call_is_shown_as_a_structured_call(
    signed_in: Callable[..., Page], console_gateway: ConsoleGateway
) -> None:
    page = signed_in(1280, route=f"/logs/{console_gateway.seeded.tool_call_id}")
    call = page.get_by_role("group", name="Tool call get_weather")
    expect(call).to_be_visible()
    expect(call.locator(".tool-call-name")).to_have_text("get_weather()")
    expect(call.locator("dt")).to_have_count(2)
    names = call.locator("dt").all_inner_texts()
    values = call.locator("dd").all_inner_texts()
    assert dict(zip(names, values, strict=True)) == {"city": '"mock"', "days": "1"}
    expect(page.get_by_text("Tools offered: get_weather")).to_be_visible()
    request_body = page.get_by_role("region", name="Request body").locator("pre")
    expect(request_body).to_contain_text('"content": "What is the weather in Paris?"')
    response_body = page.get_by_role("region", name="Response body").locator("pre")
    expect(response_body).to_contain_text('"finish_reason": "tool_calls"')
    facts = page.locator(".facts")
    expect(facts).to_contain_text("yes")  # streamed
    expect(facts).to_contain_text("application = weather-bot")
    expect(page.get_by_role("region", name="Attempts")).to_have_count(0)  # no routing applied


def test_the_attempt_chain_is_shown_when_routing_applied(
    signed_in: Callable[..., Page], console_gateway: ConsoleGateway
) -> None:
    page = signed_in(1280, route=f"/logs/{console_gateway.seeded.fallback_id}")
    attempts = page.get_by_role("region", name="Attempts").locator("li")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0)).to_contain_text("mock-main/smart 503 upstream_error")
    expect(attempts.nth(1)).to_contain_text("mock-backup/echo 200")


def test_bodies_not_logged_say_so(
    signed_in: Callable[..., Page], console_gateway: ConsoleGateway
) -> None:
    page = signed_in(390, route=f"/logs/{console_gateway.seeded.not_logged_id}")
    notice = page.get_by_role("note")
    expect(notice).to_contain_text("Bodies not logged.")
    expect(notice).to_contain_text('"tfy_log_request": "false"')
    expect(page.get_by_role("region", name="Request body")).to_have_count(0)
    expect(page.locator(".facts")).to_contain_text("tfy_log_request = false")


def test_a_script_in_a_log_record_is_shown_as_text(
    signed_in: Callable[..., Page], console_gateway: ConsoleGateway
) -> None:
    # The payload is in the URL's filter, in the table and in the detail: text everywhere.
    page = signed_in(1280, route="/logs")
    go(page, f"/logs/{console_gateway.seeded.xss_id}")
    expect(page.locator(".message-text").first).to_have_text(XSS_MESSAGE)
    expect(page.get_by_role("region", name="Request body")).to_contain_text(
        "<script>window.__xss=1</script>"
    )
    expect(page.locator(".facts")).to_contain_text(XSS_METADATA["application"])
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("main script, main img").count() == 0

    page.get_by_role("link", name="← All requests").click()
    page.get_by_role("button", name="Add filter").click()
    page.get_by_label("Filter 1 field").select_option("metadata")
    page.get_by_label("Filter 1 metadata key").fill("application")
    page.get_by_label("Filter 1 value").fill(XSS_METADATA["application"])
    page.get_by_label("Filter 1 value").press("Enter")
    expect(page.locator(ROWS)).to_have_count(1)
    expect(page.locator(ROWS).locator(".chip")).to_have_text(
        f"application = {XSS_METADATA['application']}"
    )
    page.reload()  # the payload now comes from the URL into the filter editor
    expect(page.get_by_label("Filter 1 value")).to_have_value(XSS_METADATA["application"])
    expect(page.locator(ROWS)).to_have_count(1)
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("main script, main img").count() == 0


@pytest.mark.parametrize("width", [1280, 390])
def test_screenshots_of_the_logs_pages(
    signed_in: Callable[..., Page],
    shot: Callable[[Page, str], Path],
    console_gateway: ConsoleGateway,
    width: int,
) -> None:
    page = signed_in(width, route="/logs?metadata.application=booking-bot")
    expect(page.locator(ROWS).first).to_be_visible()
    shot(page, f"logs-{width}")
    go(page, f"/logs/{console_gateway.seeded.tool_call_id}")
    expect(page.get_by_role("group", name="Tool call get_weather")).to_be_visible()
    shot(page, f"log-detail-{width}")
    go(page, f"/logs/{console_gateway.seeded.fallback_id}")
    expect(page.get_by_role("region", name="Attempts")).to_be_visible()
    shot(page, f"log-detail-fallback-{width}")
