"""`create_app`: the facade's FastAPI application, built from settings and a gateway client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from facade.allowed_methods import install_allowed_methods
from facade.anthropic import attach_anthropic
from facade.codegen import attach_codegen
from facade.console import attach_console
from facade.errors import install_error_handlers
from facade.header_limits import HeaderLimit
from facade.health import attach_health
from facade.key_first import install_key_first
from facade.keys import attach_keys
from facade.logs import attach_logs
from facade.metrics import attach_metrics
from facade.openai import attach_router
from facade.openapi_document import install_openapi
from facade.request_ids import RequestIds
from facade.settings import FacadeSettings
from gateway_client import GatewayClient

__all__ = ["create_app"]


def create_app(settings: FacadeSettings, client: GatewayClient) -> FastAPI:
    """Builds the app; its lifespan opens `client` on start-up and closes it on shutdown.

    Handlers read both from `app.state` (`facade.state.client_of` / `settings_of`).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with client:
            yield

    app = FastAPI(title="LLM gateway", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.client = client
    install_error_handlers(app)
    install_key_first(app)
    install_allowed_methods(app)
    attach_health(app)
    attach_router(app)
    attach_anthropic(app)
    attach_keys(app)
    attach_logs(app)
    attach_metrics(app)
    attach_codegen(app)
    attach_console(app)
    install_openapi(app)
    app.add_middleware(HeaderLimit)  # runs before any header is read
    app.add_middleware(RequestIds)  # added last, so it runs first: it stamps even a 431
    return app
