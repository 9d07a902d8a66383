"""What `create_app` puts on `app.state`, read back with types."""

from __future__ import annotations

from typing import cast

from fastapi import Request

from facade.settings import FacadeSettings
from gateway_client import GatewayClient

__all__ = ["client_of", "settings_of"]


def client_of(request: Request) -> GatewayClient:
    """The app's gateway client (opened by the lifespan)."""
    return cast(GatewayClient, request.app.state.client)


def settings_of(request: Request) -> FacadeSettings:
    """The app's settings."""
    return cast(FacadeSettings, request.app.state.settings)
