"""What the facade reads from an HTTP request: the caller's key, request id, metadata, body.

No per-request pydantic: the body is read with a size cap and parsed with orjson.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request

from codec.depth import check_depth, too_deep
from facade.errors import FacadeError

__all__ = ["CallerContext", "caller_context", "read_json_object", "usable_request_id"]

METADATA_HEADER = "x-tfy-metadata"


@dataclass(frozen=True, slots=True)
class CallerContext:
    """Who calls and how, forwarded to core with every gRPC call."""

    api_key: str
    request_id: str | None
    metadata_json: bytes | None
    """`X-TFY-METADATA` as received; core parses and checks it (one rule, in core)."""
    api: str | None = None
    """The HTTP API the call came in through (`chat.completions`, `responses`, ...), which
    core records in the call's log record; None for routes that make no LLM call."""


def caller_context(request: Request, api: str | None = None) -> CallerContext:
    """Reads the bearer key, `x-request-id` and `X-TFY-METADATA` (core checks key and
    metadata); `api` names the HTTP API of a route that makes an LLM call."""
    headers = request.headers
    metadata = headers.get(METADATA_HEADER)
    return CallerContext(
        api_key=bearer_token(headers.get("authorization")),
        request_id=usable_request_id(headers.get("x-request-id")),
        # Starlette decodes header bytes as latin-1: encoding them back gives them unchanged.
        metadata_json=metadata.encode("latin-1") if metadata else None,
        api=api,
    )


def usable_request_id(value: str | None) -> str | None:
    """A caller's `x-request-id` if a header can carry it on, else None (core, or the facade
    for an answer core never saw, then makes one)."""
    if value and value.isascii() and value.isprintable():
        return value
    return None


def bearer_token(authorization: str | None) -> str:
    """The key in `Authorization: Bearer <key>`; 401 when missing or of another scheme."""
    if not authorization:
        raise FacadeError(
            401,
            "Missing API key: send it as 'Authorization: Bearer <key>'.",
            code="invalid_api_key",
        )
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise FacadeError(
            401,
            "Malformed Authorization header: expected 'Bearer <key>'.",
            code="invalid_api_key",
        )
    return token


async def read_json_object(request: Request, max_bytes: int) -> dict[str, Any]:
    """The body as a JSON object; 413 over `max_bytes`, 400 when not a JSON object or when
    nested deeper than `codec.MAX_JSON_DEPTH` (which core could not decode)."""
    body = await _read_capped(request, max_bytes)
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth" in exc.msg:  # orjson stops at 1,024 levels, far past our own limit
            raise too_deep(None) from None
        raise FacadeError(400, "The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(value, dict):
        raise FacadeError(400, "The request body must be a JSON object.", code="invalid_request")
    # Every JSON API's body, before any of it becomes protobuf: one check for all of them.
    check_depth(value)
    return value


async def _read_capped(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise FacadeError(
                400, "Invalid Content-Length header.", code="invalid_request"
            ) from None
        if size > max_bytes:
            raise _too_large(max_bytes)
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > max_bytes:  # a chunked upload (or a lying Content-Length)
            raise _too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(max_bytes: int) -> FacadeError:
    return FacadeError(
        413,
        f"The request body is larger than the limit of {max_bytes} bytes.",
        code="payload_too_large",
    )
