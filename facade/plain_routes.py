"""Hot routes served by Starlette's plain request/response, documented by FastAPI's.

FastAPI's per-request pipeline (resolving included routers, solving dependencies, an exit
stack per request) costs about 0.07 ms of CPU per chat call, some 8% of the gateway's
whole work for one (measured: `bench/suite.py`, one connection). The OpenAI handlers take
only the `Request` and return a `Response`, so they need none of it. Their FastAPI routes
stay mounted for the OpenAPI document; the plain routes sit in front of them, for the same
paths and methods, so they are the ones that answer. Errors still go through the app's
exception handlers, which are middleware, not part of a route.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Match, Route
from starlette.types import Scope

__all__ = ["PlainRoute", "serve_plain"]


class PlainRoute(Route):
    """A Starlette route that records itself in the scope, as FastAPI's routes do, so the
    HTTP metrics label it by its template (facade/http_metrics.py)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


def serve_plain(app: FastAPI, router: APIRouter, prefixes: Iterable[str]) -> None:
    """Puts a plain route for each of `router`'s routes under each prefix at the front of
    `app`'s routing table; `router` must be mounted under the same prefixes as well."""
    plain: list[PlainRoute] = []
    for prefix in prefixes:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            served = PlainRoute(prefix + route.path, route.endpoint, name=route.name)
            served.methods = set(route.methods or ())  # exactly FastAPI's: no HEAD added to GET
            plain.append(served)
    app.router.routes[:0] = plain
