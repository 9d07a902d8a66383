"""`/api/svc/v1/keys`: create, list, revoke, rotate; core checks the caller is the admin."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response

from facade.inputs import bearer_token, read_json_object
from facade.keys.schemas import CreateKeyRequest
from facade.keys.translate import key_json, parse_create
from facade.openapi import error_responses, json_body
from facade.state import client_of, settings_of

__all__ = ["PREFIX", "attach_keys"]

PREFIX = "/api/svc/v1/keys"

_BY_ID = error_responses(400, 404)
_CREATE = json_body(CreateKeyRequest, description="Who the key is for and what it may use.")


async def create_key(request: Request) -> Response:
    """Creates a key; the answer carries its secret (`key`), shown this once."""
    api_key = bearer_token(request.headers.get("authorization"))
    body = parse_create(await read_json_object(request, settings_of(request).max_body_bytes))
    created = await client_of(request).keys.create(
        body.subject,
        teams=body.teams,
        admin_teams=body.admin_teams,
        models=body.models,
        expires_at_ms=body.expires_at_ms,
        api_key=api_key,
        timeout=settings_of(request).request_timeout_seconds,
    )
    return _json(key_json(created.api_key, created.secret))


async def list_keys(
    request: Request, subject: str | None = None, include_revoked: bool = False
) -> Response:
    """Lists keys, newest first, without secrets."""
    api_key = bearer_token(request.headers.get("authorization"))
    keys = await client_of(request).keys.list(
        subject=subject,
        include_revoked=include_revoked,
        api_key=api_key,
        timeout=settings_of(request).request_timeout_seconds,
    )
    return _json({"data": [key_json(k) for k in keys]})


async def revoke_key(request: Request, key_id: str) -> Response:
    """Revokes a key."""
    api_key = bearer_token(request.headers.get("authorization"))
    key = await client_of(request).keys.revoke(
        key_id, api_key=api_key, timeout=settings_of(request).request_timeout_seconds
    )
    return _json(key_json(key))


async def rotate_key(request: Request, key_id: str) -> Response:
    """Gives a key a new secret (`key` in the answer); the old one stops working."""
    api_key = bearer_token(request.headers.get("authorization"))
    rotated = await client_of(request).keys.rotate(
        key_id, api_key=api_key, timeout=settings_of(request).request_timeout_seconds
    )
    return _json(key_json(rotated.api_key, rotated.secret))


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def attach_keys(app: FastAPI) -> None:
    """Mounts the key routes on `app`."""
    router = APIRouter(prefix=PREFIX, tags=["keys"], responses=error_responses(401, 403, 500))
    router.add_api_route(
        "",
        create_key,
        methods=["POST"],
        responses=error_responses(400, 413),
        openapi_extra=_CREATE,
    )
    router.add_api_route("", list_keys, methods=["GET"], responses=error_responses(400))
    router.add_api_route("/{key_id}", revoke_key, methods=["DELETE"], responses=_BY_ID)
    router.add_api_route("/{key_id}/rotate", rotate_key, methods=["POST"], responses=_BY_ID)
    app.include_router(router)
