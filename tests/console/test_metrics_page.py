"""The Metrics page against the metrics query API: charts and table show what the API answers.

The page puts the exact queries it made on its chart and table areas (`data-query`), and each
chart the points it plots (`data-series`); the tests replay those queries with httpx and
compare, after applying a filter and a metadata group-by through the page's own controls.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.console.seed import XSS_METADATA, ConsoleGateway

QUERY_PATH = "/api/svc/v1/llm-gateway/metrics/query"
CHART_METRICS = (
    "requests", "input_tokens", "output_tokens", "cost", "error_rate",
    "latency_p50", "latency_p99", "ttft_p50", "ttft_p99",
)  # fmt: skip


def _api(gateway: ConsoleGateway, query: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        gateway.url + QUERY_PATH,
        json=query,
        headers={"authorization": f"Bearer {gateway.admin_key}"},
        timeout=10,
    )
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def _value(metric: str, row: dict[str, Any]) -> float | None:
    """What a chart plots for one API row (the error rate is the one figure derived)."""
    if metric == "error_rate":
        return row["errors"] / row["requests"] if row["requests"] else None
    if metric in ("latency_p50", "latency_p99", "ttft_p50", "ttft_p99"):
        name, p = metric.rsplit("_", 1)
        percentiles = row[f"{name}_ms"]
        return None if percentiles is None else percentiles[p]
    value: float = row[metric]
    return value


def _label(row: dict[str, Any], group: str | None) -> str:
    if row["other"]:
        return "other"
    if group is None:
        return "all calls"
    return "(none)" if row[group] is None else str(row[group])


def _expected_series(answer: dict[str, Any], group: str | None, metric: str) -> list[Any]:
    series: dict[str, dict[str, Any]] = {}
    for row in answer["rows"]:
        name = _label(row, group)
        entry = series.setdefault(name, {"name": name, "other": row["other"], "points": []})
        entry["points"].append([row["bucket_start"], _value(metric, row)])
    return list(series.values())


def _wait_loaded(page: Page) -> Locator:
    charts = page.locator(".metrics-charts")
    expect(charts).to_have_attribute("aria-busy", "false")
    expect(page.locator("figure.chart")).to_have_count(len(CHART_METRICS))
    return charts


def _query_of(locator: Locator) -> dict[str, Any]:
    query: dict[str, Any] = json.loads(locator.get_attribute("data-query") or "null")
    return query


def _assert_charts_match(page: Page, gateway: ConsoleGateway) -> dict[str, Any]:
    query = _query_of(page.locator(".metrics-charts"))
    assert query["interval"] == "auto"
    answer = _api(gateway, query)
    group = query["group_by"][0] if query["group_by"] else None
    assert answer["rows"], "the seeded traffic should show in the charts"
    for metric in CHART_METRICS:
        figure = page.locator(f'figure.chart[data-metric="{metric}"]')
        drawn = json.loads(figure.get_attribute("data-series") or "null")
        assert drawn == _expected_series(answer, group, metric), metric
        # Every series is in the legend, by name.
        legend = figure.locator(".chart-legend li")
        expect(legend).to_have_text([s["name"] for s in drawn])
    return query


def _assert_table_matches(page: Page, gateway: ConsoleGateway) -> dict[str, Any]:
    table_area = page.locator(".metrics-table")
    query = _query_of(table_area)
    assert query["interval"] is None
    answer = _api(gateway, query)
    group = query["group_by"][0] if query["group_by"] else None
    # Requests, errors and tokens as the table shows them (integers, thousands separated),
    # per group label; the API's row order need not be the table's (it sorts by requests).
    shown = {}
    for row in table_area.locator("tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        shown[cells[0]] = cells[1:3] + cells[4:6]
    expected = {
        _label(r, group): [
            f"{r[k]:,}" for k in ("requests", "errors", "input_tokens", "output_tokens")
        ]
        for r in answer["rows"]
    }
    assert shown == expected
    totals = table_area.locator("tfoot tr").locator("th, td").all_inner_texts()
    assert totals[0] == "Total"
    assert totals[1:3] + totals[4:6] == [
        f"{answer['totals'][k]:,}" for k in ("requests", "errors", "input_tokens", "output_tokens")
    ]
    return answer


def _open(page: Page, gateway: ConsoleGateway, query: str = "") -> None:
    page.goto(f"{gateway.url}/#/metrics{query}")
    expect(page.get_by_role("heading", name="Metrics", exact=True)).to_be_visible()


def test_filter_and_metadata_group_match_the_api(
    signed_in: Callable[..., Page],
    console_gateway: ConsoleGateway,
    shot: Callable[[Page, str], Path],
) -> None:
    page = signed_in(1280)
    _open(page, console_gateway, "?period=1h")
    _wait_loaded(page)
    # The default view, grouped by model.
    assert _assert_charts_match(page, console_gateway)["group_by"] == ["model"]
    _assert_table_matches(page, console_gateway)

    # A filter through the filter editor: model = mock-main/echo.
    page.get_by_role("button", name="Add filter").click()
    page.get_by_label("Filter 1 field").select_option("model")
    page.get_by_label("Filter 1 value").fill("mock-main/echo")
    page.get_by_role("button", name="Apply").click()
    # A metadata group-by, typed in.
    page.get_by_label("Group by").select_option("metadata")
    page.get_by_label("Metadata key").fill("customer_id")
    page.get_by_role("button", name="Group", exact=True).click()

    charts = page.locator(".metrics-charts")
    expect(charts).to_have_attribute("data-query", re.compile(r"metadata\.customer_id"))
    _wait_loaded(page)
    query = _assert_charts_match(page, console_gateway)
    assert query["group_by"] == ["metadata.customer_id"]
    assert query["filter"] == {
        "model": [{"key": "model", "value": "mock-main/echo", "operator": "EQ"}]
    }
    answer = _assert_table_matches(page, console_gateway)
    labels = {_label(r, "metadata.customer_id") for r in answer["rows"]}
    assert {"c-1", "c-2", "(none)"} <= labels
    figure = page.locator('figure.chart[data-metric="requests"]')
    expect(figure.locator(".chart-legend")).to_contain_text("c-1")
    shot(page, "metrics-1280")

    # The URL holds the view; a reload restores it.
    expect(page).to_have_url(re.compile(r"group=metadata\.customer_id"))
    expect(page).to_have_url(re.compile(r"model=mock-main%2Fecho"))
    expect(page).to_have_url(re.compile(r"period=1h"))
    page.reload()
    _wait_loaded(page)
    expect(page.get_by_label("Group by")).to_have_value("metadata")
    expect(page.get_by_label("Metadata key")).to_have_value("customer_id")
    expect(page.get_by_label("Filter 1 value")).to_have_value("mock-main/echo")
    restored = _assert_charts_match(page, console_gateway)
    assert restored["group_by"] == query["group_by"]
    assert restored["filter"] == query["filter"]
    _assert_table_matches(page, console_gateway)


def test_csv_export_holds_the_api_rows_and_totals(
    signed_in: Callable[..., Page], console_gateway: ConsoleGateway
) -> None:
    page = signed_in(1280)
    _open(page, console_gateway, "?period=24h&group=user")
    _wait_loaded(page)
    answer = _assert_table_matches(page, console_gateway)
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Export CSV").click()
    download = downloading.value
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    by_user = {row["user"]: row for row in rows}
    assert set(by_user) == {_label(r, "user") for r in answer["rows"]} | {"Total"}
    for api_row in [*answer["rows"], {**answer["totals"], "other": False, "user": "Total"}]:
        row = by_user[_label(api_row, "user")]
        for key in ("requests", "errors", "input_tokens", "output_tokens"):
            assert int(row[key]) == api_row[key], key
        assert float(row["cost"]) == pytest.approx(api_row["cost"], rel=1e-12)
        latency = api_row["latency_ms"]
        assert (row["latency_p99"] == "") == (latency is None)
        if latency is not None:
            assert float(row["latency_p99"]) == pytest.approx(latency["p99"], rel=1e-12)


def test_custom_period_from_the_url_and_keyboard_tooltip(
    signed_in: Callable[..., Page], console_gateway: ConsoleGateway
) -> None:
    page = signed_in(1280)
    start = _api(console_gateway, {"start_time": 0})["end_time"] - 3_600_000
    end = start + 2 * 3_600_000
    _open(page, console_gateway, f"?from={start}&to={end}&group=none")
    _wait_loaded(page)
    query = _query_of(page.locator(".metrics-charts"))
    assert (query["start_time"], query["end_time"], query["group_by"]) == (start, end, [])
    expect(page.get_by_role("combobox", name="Period")).to_have_value("custom")
    expect(page.get_by_label("Group by")).to_have_value("")  # "Nothing (all calls)"
    _assert_charts_match(page, console_gateway)

    # The chart is focusable; the arrow keys walk its points and the tooltip reads them.
    plot = page.locator('figure.chart[data-metric="requests"] .chart-plot')
    expect(plot).to_have_attribute("aria-label", re.compile(r"^Requests, 1 series\. all calls: "))
    plot.focus()
    tooltip = page.locator('figure.chart[data-metric="requests"] .chart-tooltip')
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text("all calls")
    page.keyboard.press("Home")
    expect(tooltip).to_be_visible()
    page.keyboard.press("Escape")
    expect(tooltip).to_be_hidden()
    plot.hover()  # the pointer shows it too
    expect(tooltip).to_be_visible()

    # Refresh asks again; a fixed range stays the same range.
    page.get_by_role("button", name="Refresh").click()
    _wait_loaded(page)
    assert _query_of(page.locator(".metrics-charts")) == query


def test_empty_and_error_states(
    signed_in: Callable[..., Page], console_gateway: ConsoleGateway
) -> None:
    page = signed_in(1280)
    _open(page, console_gateway, "?period=1h&model=no-such/model")
    expect(page.locator(".metrics-charts .state-empty")).to_contain_text("No calls")
    expect(page.get_by_role("button", name="Export CSV")).to_be_disabled()
    # A metadata key not rolled up, over more than the raw window: the API's 400, shown.
    _open(page, console_gateway, "?period=7d&group=metadata.not_declared")
    error = page.locator(".metrics-charts .state-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("metadata.not_declared")


def test_narrow_screen(
    signed_in: Callable[..., Page],
    console_gateway: ConsoleGateway,
    shot: Callable[[Page, str], Path],
) -> None:
    page = signed_in(390)
    _open(page, console_gateway, "?period=1h&group=metadata.application")
    _wait_loaded(page)
    _assert_charts_match(page, console_gateway)
    # A metadata value holding markup is a series name shown as text, never run.
    legend = page.locator('figure.chart[data-metric="requests"] .chart-legend')
    expect(legend).to_contain_text(XSS_METADATA["application"])
    assert page.evaluate("window.__xss") is None
    # The charts fit the screen: drawn at their box's width, no sideways scrolling.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    shot(page, "metrics-390")
