"""What routes declare for the OpenAPI document that FastAPI cannot see in their handlers.

Handlers take the raw `Request` and parse JSON themselves (no per-request pydantic, DESIGN
section 8), so FastAPI documents no request body. Each route declares its body with
`json_body(Model)`, naming a pydantic model kept for the document only (the `schemas.py` of
each API package), and its error answers with `error_responses(...)`;
`facade.openapi_document` adds those models to the document's components.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from facade.errors import ErrorResponse

__all__ = ["METADATA_HEADER", "SCHEMA_REF", "error_responses", "json_body"]

SCHEMA_REF = "#/components/schemas/"

_WHEN: dict[int, str] = {
    400: "Invalid request: not JSON, a field of the wrong type or value (`param` names it), "
    "or an invalid X-TFY-METADATA header.",
    401: "Missing, malformed, unknown, expired or revoked API key.",
    403: "The key may not do this: a model outside its grant, or an admin-only route.",
    404: "Not found: the model, key or request log (`code` says which).",
    413: "The request body is larger than the gateway's limit.",
    429: "A rate-limit or budget rule blocks the call; the message names the rule and "
    "`Retry-After` says when to try again.",
    431: "The request headers total more than 64 KiB.",
    500: "A bug in the gateway; the message carries no internals.",
    502: "The provider failed, or its answer was too large to pass on.",
    503: "No target can serve the call now (all cooling down after failures), or the "
    "rate-limit counters cannot be reached.",
    504: "The provider did not answer in time.",
}

METADATA_HEADER: dict[str, Any] = {
    "name": "X-TFY-METADATA",
    "in": "header",
    "required": False,
    "description": "Custom metadata: a JSON object of at most 64 keys (1 to 128 printable "
    "characters) to string values of at most 128 characters. Stored with the request log, "
    "filterable (`metadata.<key>`), groupable in metrics and matched by config `when:` blocks. "
    'A 400 names the key at fault. `"tfy_log_request": "false"` keeps the request and '
    "response bodies out of the log.",
    "schema": {
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": {
            "type": "object",
            "maxProperties": 64,
            "propertyNames": {"minLength": 1, "maxLength": 128},
            "additionalProperties": {"type": "string", "maxLength": 128},
        },
        "examples": ['{"application":"booking-bot","customer_id":"123"}'],
    },
}
"""The `X-TFY-METADATA` request header, as an OpenAPI parameter."""


def json_body(model: type[BaseModel], *, description: str, required: bool = True) -> dict[str, Any]:
    """`openapi_extra` documenting a JSON request body shaped like `model`."""
    return {
        "requestBody": {
            "description": description,
            "required": required,
            "content": {"application/json": {"schema": {"$ref": SCHEMA_REF + model.__name__}}},
        }
    }


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses` for these error statuses, each in OpenAI's error envelope; 431 is added:
    every route answers it (facade/header_limits.py)."""
    return {
        status: {"model": ErrorResponse, "description": _WHEN[status]}
        for status in sorted({*statuses, 431})
    }
