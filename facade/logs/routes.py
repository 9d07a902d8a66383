"""The request-log JSON API: `POST /api/svc/v1/llm-gateway/requests` and `GET .../{id}`."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response

from facade.inputs import caller_context, read_json_object
from facade.logs.schemas import LogQueryRequest
from facade.logs.translate import entry_to_json, json_param, list_request_from_json, page_to_json
from facade.openapi import error_responses, json_body
from facade.state import client_of, settings_of
from gateway_client import InvalidRequestError

__all__ = ["PREFIX", "attach_logs"]

PREFIX = "/api/svc/v1/llm-gateway"

_QUERY = json_body(
    LogQueryRequest,
    description="Filter, sort and page; an empty body lists the newest records.",
    required=False,
)


async def list_requests(request: Request) -> Response:
    """Lists the request logs the caller may see, filtered, sorted and paged."""
    caller = caller_context(request)
    settings = settings_of(request)
    body = await _body(request, settings.max_body_bytes)
    parsed = list_request_from_json(body)
    try:
        page = await client_of(request).logs.list(
            parsed.request,
            api_key=caller.api_key,
            request_id=caller.request_id,
            timeout=settings.request_timeout_seconds,
        )
    except InvalidRequestError as error:
        # Core names the ListLogsRequest path at fault; callers know their JSON body's (the
        # error envelope redacts any secret-shaped field name in it).
        error.param = json_param(error.param, parsed)
        raise
    return _json(page_to_json(page))


async def get_request(request: Request, log_id: str) -> Response:
    """One request log by id; 404 `log_not_found` when it does not exist or is not visible."""
    caller = caller_context(request)
    entry = await client_of(request).logs.get(
        log_id,
        api_key=caller.api_key,
        request_id=caller.request_id,
        timeout=settings_of(request).request_timeout_seconds,
    )
    return _json(entry_to_json(entry))


async def _body(request: Request, max_bytes: int) -> dict[str, Any]:
    # Every part of the query is optional, so an empty body is the empty query.
    if request.headers.get("content-length") == "0":
        return {}
    return await read_json_object(request, max_bytes)


def _json(content: dict[str, Any]) -> Response:
    return Response(orjson.dumps(content), media_type="application/json")


def build_router() -> APIRouter:
    """A fresh router with the two log routes."""
    router = APIRouter(tags=["logs"], responses=error_responses(401, 500))
    router.add_api_route(
        "/requests",
        list_requests,
        methods=["POST"],
        responses=error_responses(400, 413),
        openapi_extra=_QUERY,
    )
    router.add_api_route(
        "/requests/{log_id}", get_request, methods=["GET"], responses=error_responses(404)
    )
    return router


def attach_logs(app: FastAPI) -> None:
    """Mounts the log routes on `app` under `PREFIX`."""
    app.include_router(build_router(), prefix=PREFIX)
