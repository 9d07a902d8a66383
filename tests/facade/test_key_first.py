"""Refusals the facade makes itself ask core about the key first (facade/key_first.py).

An unknown key turning a 400 into a 401 is tested against a real core in
tests/reliability/test_fuzz_http.py; here, what happens when core cannot be asked.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from facade.app import create_app
from facade.key_first import KEY_CHECK_TIMEOUT_SECONDS
from facade.settings import FacadeSettings
from gateway_client import GatewayClient
from tests.facade.envelope import CHAT, error_of
from tests.ports import free_port


@pytest.fixture
async def no_core() -> AsyncIterator[httpx.AsyncClient]:
    """The facade in front of a port nothing listens on."""
    app = create_app(FacadeSettings(), GatewayClient(f"127.0.0.1:{free_port()}"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://facade.test") as client:
            yield client


async def test_when_core_cannot_check_the_key_the_request_error_stands(
    no_core: httpx.AsyncClient,
) -> None:
    started = time.monotonic()
    response = await no_core.post(
        CHAT, content=b"not even JSON", headers={"authorization": "Bearer sk-any"}
    )
    assert response.status_code == 400, response.text
    assert error_of(response)["code"] == "invalid_json"
    assert time.monotonic() - started < KEY_CHECK_TIMEOUT_SECONDS  # refused at once, not waited


@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwdw==", "Bearer two words"])
async def test_a_missing_or_malformed_key_wins_over_a_bad_query(
    no_core: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    response = await no_core.get(
        "/api/svc/v1/keys", params={"include_revoked": "perhaps"}, headers=headers
    )
    assert response.status_code == 401, response.text
    assert error_of(response)["code"] == "invalid_api_key"
