"""`POST /api/svc/v1/llm-gateway/metrics/query`: usage, cost and latency, grouped."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response

from facade.errors import ErrorResponse
from facade.inputs import caller_context, read_json_object
from facade.logs.routes import PREFIX
from facade.metrics.translate import json_param, query_from_json, response_to_json
from facade.state import client_of, settings_of
from gateway_client import InvalidRequestError

__all__ = ["attach_metrics"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 403, 413, 500)
}


async def query_metrics(request: Request) -> Response:
    """Figures of the calls the caller may see, grouped and bucketed by time."""
    caller = caller_context(request)
    settings = settings_of(request)
    parsed = query_from_json(await read_json_object(request, settings.max_body_bytes))
    try:
        answer = await client_of(request).metrics.query(
            parsed.request,
            api_key=caller.api_key,
            request_id=caller.request_id,
            timeout=settings.request_timeout_seconds,
        )
    except InvalidRequestError as error:
        # Core names the QueryMetricsRequest path at fault; callers know their JSON body's.
        error.param = json_param(error.param, parsed)
        raise
    body = response_to_json(answer, list(parsed.request.group_by))
    return Response(orjson.dumps(body), media_type="application/json")


def attach_metrics(app: FastAPI) -> None:
    """Mounts the metrics route on `app`."""
    router = APIRouter(tags=["metrics"], responses=_ERRORS)
    router.add_api_route("/metrics/query", query_metrics, methods=["POST"])
    app.include_router(router, prefix=PREFIX)
