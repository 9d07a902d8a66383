"""facade/http_metrics.py: requests counted by route template, never by raw path."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from facade.http_metrics import HttpMetrics, instrument
from tests.facade.conftest import API_KEY


@pytest.fixture
async def measured(app: FastAPI) -> AsyncIterator[tuple[httpx.AsyncClient, CollectorRegistry]]:
    registry = CollectorRegistry()
    transport = httpx.ASGITransport(instrument(app, HttpMetrics.register(registry)))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://facade.test",
        headers={"authorization": f"Bearer {API_KEY}"},
    ) as client:
        yield client, registry


async def test_requests_are_counted_by_route_template(
    measured: tuple[httpx.AsyncClient, CollectorRegistry],
) -> None:
    http, registry = measured
    body = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
    assert (await http.post("/v1/chat/completions", json=body)).status_code == 200
    assert (await http.post("/v1/chat/completions", content=b"{")).status_code == 400
    for n in range(3):
        await http.get(f"/does/not/exist/{n}")
    value = registry.get_sample_value
    chat = {"route": "/v1/chat/completions", "method": "POST"}
    assert value("llm_gateway_http_requests_total", {**chat, "status": "200"}) == 1
    assert value("llm_gateway_http_requests_total", {**chat, "status": "400"}) == 1
    assert value("llm_gateway_http_request_duration_seconds_count", chat) == 2
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert value("llm_gateway_http_requests_total", unmatched) == 3  # one series, not three
    await http.get("/api/svc/v1/llm-gateway/requests/abc")
    template = {"route": "/api/svc/v1/llm-gateway/requests/{log_id}", "method": "GET"}
    assert value("llm_gateway_http_request_duration_seconds_count", template) == 1
