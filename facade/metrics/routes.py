"""`POST /api/svc/v1/llm-gateway/metrics/query`: usage, cost and latency, grouped."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, FastAPI, Request, Response

from facade.inputs import caller_context, read_json_object
from facade.logs.routes import PREFIX
from facade.metrics.schemas import MetricsQueryRequest
from facade.metrics.translate import json_param, query_from_json, response_to_json
from facade.openapi import error_responses, json_body
from facade.state import client_of, settings_of
from gateway_client import InvalidRequestError

__all__ = ["attach_metrics"]

_QUERY = json_body(MetricsQueryRequest, description="The period, filter, groups and buckets.")


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
    router = APIRouter(tags=["metrics"], responses=error_responses(400, 401, 413, 500))
    router.add_api_route("/metrics/query", query_metrics, methods=["POST"], openapi_extra=_QUERY)
    app.include_router(router, prefix=PREFIX)
