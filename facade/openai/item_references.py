"""`item_reference` input items of the Responses API, resolved from stored responses.

A client that keeps the conversation itself but lets the server store responses (the Vercel
AI SDK's default, `store: true`) sends an earlier answer's output items back as references:
`{"type": "item_reference", "id": "fc_..."}`. The ids this gateway gives output items name
the response they belong to (`msg_<own>`, `fc_<own>_<i>` of `resp_<own>`), so each reference
is answered from that stored response, visible to the caller's key only, and replaced by the
item itself before the request is translated: the codec never sees a reference.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from facade.errors import FacadeError
from facade.inputs import CallerContext
from facade.openai.stored_responses import stored_response
from gateway_client import NotFoundError

__all__ = ["resolve_item_references"]


async def resolve_item_references(
    request: Request, caller: CallerContext, body: dict[str, Any]
) -> dict[str, Any]:
    """`body` with each `item_reference` in `input` replaced by the item it names; `body`
    itself when it has none (the common case costs one scan)."""
    items = body.get("input")
    if not isinstance(items, list) or not any(_is_reference(item) for item in items):
        return body
    outputs: dict[str, dict[str, dict[str, Any]] | None] = {}
    resolved: list[Any] = []
    for i, item in enumerate(items):
        if not _is_reference(item):
            resolved.append(item)
            continue
        where = f"input[{i}].id"
        item_id = item.get("id")
        if not isinstance(item_id, str) or not item_id:
            raise FacadeError(
                400, f"`{where}` must be a non-empty string.", code="invalid_request", param=where
            )
        response_id = _response_of(item_id)
        if response_id is not None and response_id not in outputs:
            outputs[response_id] = await _stored_output(request, caller, response_id)
        found = (outputs.get(response_id) or {}).get(item_id) if response_id else None
        if found is None:
            raise FacadeError(
                400, f"Item with id '{item_id}' not found.", code="invalid_request", param=where
            )
        resolved.append(found)
    return {**body, "input": resolved}


def _is_reference(item: Any) -> bool:
    return isinstance(item, dict) and item.get("type") == "item_reference"


def _response_of(item_id: str) -> str | None:
    """The response an output item id of ours belongs to; None for any other id."""
    if item_id.startswith("msg_"):
        own = item_id.removeprefix("msg_")
    elif item_id.startswith("fc_"):
        # `fc_<own>_<i>`: a caller's request id may hold `_`, so the index is split off the end.
        own, _, index = item_id.removeprefix("fc_").rpartition("_")
        if not index.isdigit():
            return None
    else:
        return None
    return f"resp_{own}" if own else None


async def _stored_output(
    request: Request, caller: CallerContext, response_id: str
) -> dict[str, dict[str, Any]] | None:
    """The output items of a stored response by id; None when the key has no such response."""
    try:
        stored = await stored_response(request, caller, response_id)
    except NotFoundError:
        return None
    output = orjson.loads(stored.response_json).get("output") or []
    return {item["id"]: item for item in output if isinstance(item, dict) and "id" in item}
