"""405 answers whose `Allow` header lists every method the path accepts, over all its routes.

Starlette answers 405 from the first route whose path matches, with that route's methods
only: `/api/svc/v1/keys` has a POST route and a GET route, so `OPTIONS` got `Allow: POST`.
RFC 9110 (15.5.6) wants every method the resource supports.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from starlette.routing import Match
from starlette.types import Scope

from facade.errors import error_response

__all__ = ["allowed_methods", "install_allowed_methods"]


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """The methods some route of `app` fully matches on the request's path, sorted."""
    # Asked through BaseRoute.matches, the one public routing API: FastAPI keeps included
    # routers' routes behind private wrappers. Each probe gets its own "fastapi" scope dict,
    # which matching writes to. This runs only for a 405.
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**scope, "method": method, "fastapi": {}})[0] is Match.FULL
            for route in app.router.routes
        )
    ]


async def _on_method_not_allowed(request: Request, exc: Exception) -> Response:
    allow = ", ".join(allowed_methods(request.app, request.scope))
    return error_response(
        405,
        f"Method {request.method} is not allowed on {request.url.path}.",
        code="method_not_allowed",
        headers={"allow": allow},
    )


def install_allowed_methods(app: FastAPI) -> None:
    """Answers every 405 of `app` with the full `Allow` header, in OpenAI's envelope."""
    app.add_exception_handler(405, _on_method_not_allowed)
