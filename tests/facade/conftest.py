"""The facade app in front of a real grpc.aio server running the scripted `FakeCore`.

Requests go through `httpx.ASGITransport`; the app's lifespan (which opens its gateway
client) runs around each test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from facade.app import create_app
from facade.settings import FacadeSettings
from gateway_client import GatewayClient
from tests.clients.fake_core import FakeCore, core, core_server  # noqa: F401

API_KEY = "sk-caller"
MAX_BODY_BYTES = 2048


@asynccontextmanager
async def facade_app(
    core_target: str, settings: FacadeSettings, **client_options: Any
) -> AsyncIterator[FastAPI]:
    """The app in front of `core_target`, its lifespan (the gateway client) open."""
    built = create_app(settings, GatewayClient(core_target, **client_options))
    async with built.router.lifespan_context(built):
        yield built


@asynccontextmanager
async def facade_http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of `app` sending the caller's key."""
    # Unexpected exceptions are answered with a 500 and then re-raised for the server to
    # log; the transport must not re-raise them into the test.
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://facade.test",
        headers={"authorization": f"Bearer {API_KEY}"},
    ) as client:
        yield client


@pytest.fixture
async def app(core_server: tuple[FakeCore, str]) -> AsyncIterator[FastAPI]:
    settings = FacadeSettings(max_body_bytes=MAX_BODY_BYTES, request_timeout_seconds=10)
    async with facade_app(core_server[1], settings) as built:
        yield built


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with facade_http(app) as client:
        yield client
