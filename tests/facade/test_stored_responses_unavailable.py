"""A response core could not store is still answered: it is made, billed and logged."""

from __future__ import annotations

import logging

import httpx
import pytest


async def test_the_answer_stands_when_storing_fails(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # The scripted FakeCore serves RouteService only: StoreResponse fails UNIMPLEMENTED.
    with caplog.at_level(logging.WARNING, logger="facade.openai.stored_responses"):
        answer = await http.post("/v1/responses", json={"model": "m", "input": "hi"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "completed"
    (warning,) = [r for r in caplog.records if "was not stored" in r.getMessage()]
    assert answer.json()["id"] in warning.getMessage()


async def test_store_false_does_not_try(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="facade.openai.stored_responses"):
        answer = await http.post(
            "/v1/responses", json={"model": "m", "input": "hi", "store": False}
        )
    assert answer.status_code == 200, answer.text
    assert not [r for r in caplog.records if "was not stored" in r.getMessage()]
