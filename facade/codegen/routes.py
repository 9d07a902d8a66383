"""`POST /api/svc/v1/llm-gateway/codegen`: a ready-to-run snippet for a chat request."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response

from facade.codegen.registry import Target, choose_target
from facade.codegen.schemas import CodegenRequest, CodegenResponse
from facade.codegen.spec import API_KEY_ENV, ChatSpec, parse_chat_request
from facade.errors import FacadeError
from facade.inputs import caller_context, read_json_object
from facade.logs.routes import PREFIX
from facade.openai.routes import PREFIXES
from facade.openapi import error_responses, json_body
from facade.state import client_of, settings_of

__all__ = ["DEFAULT_GRPC_PORT", "attach_codegen"]

DEFAULT_GRPC_PORT = 50051
"""The gateway's default gRPC port (GATEWAY_GRPC_PORT): the facade does not know the one core
listens on, so gRPC snippets default to the HTTP host with this port."""

_FIELDS = ("request", "language", "library")
_BODY = json_body(CodegenRequest, description="The chat request, and the language and library.")


async def generate_code(request: Request) -> Response:
    """Writes a snippet making the given chat request through this gateway."""
    caller = caller_context(request)  # no key: 401 before the body is read
    settings = settings_of(request)
    target, spec = _parse(await read_json_object(request, settings.max_body_bytes), request)
    # The snippet reads nothing stored, but only a caller core accepts gets one.
    await client_of(request).list_models(
        api_key=caller.api_key,
        request_id=caller.request_id,
        timeout=settings.request_timeout_seconds,
    )
    answer = {"code": target.render(spec), "filename": target.filename, "api_key_env": API_KEY_ENV}
    return Response(orjson.dumps(answer), media_type="application/json")


def _parse(body: dict[str, Any], request: Request) -> tuple[Target, ChatSpec]:
    unknown = [key for key in body if key not in _FIELDS]
    if unknown:
        raise FacadeError(
            400,
            f"Unknown field {unknown[0]!r}; the body takes {', '.join(_FIELDS)}.",
            code="invalid_request",
            param=unknown[0],
        )
    if "request" not in body:
        raise FacadeError(400, "`request` is required.", code="invalid_request", param="request")
    target = choose_target(body.get("language"), body.get("library"))
    spec = parse_chat_request(
        body["request"], base_url=openai_base_url(request), grpc_target=grpc_target(request)
    )
    return target, spec


def openai_base_url(request: Request) -> str:
    """The OpenAI-compatible base URL as this caller reached the gateway (scheme, host, port
    and any root path of the request, then the facade's first OpenAI prefix)."""
    return str(request.base_url).rstrip("/") + PREFIXES[0]


def grpc_target(request: Request) -> str:
    """`host:port` of the gateway's gRPC port on the host the caller reached."""
    host = request.base_url.hostname or "127.0.0.1"
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"{host}:{DEFAULT_GRPC_PORT}"


def attach_codegen(app: FastAPI) -> None:
    """Mounts the codegen route on `app`."""
    router = APIRouter(tags=["codegen"], responses=error_responses(400, 401, 413, 500))
    router.add_api_route(
        "/codegen",
        generate_code,
        methods=["POST"],
        responses={200: {"model": CodegenResponse, "description": "The snippet."}},
        openapi_extra=_BODY,
    )
    app.include_router(router, prefix=PREFIX)
