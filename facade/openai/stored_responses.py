"""Stored responses of the Responses API, kept by core's ResponseService.

- `previous_response_id`: the stored conversation goes between the new request's
  instructions and its input (the previous instructions are not carried over, as OpenAI
  does), so the chat pipeline sees one ordinary conversation.
- Every answered response is stored unless the request says `store: false`: its
  conversation (without instructions, with its output) and the `response` object returned.
  It is stored before the answer (or the stream's last event) is sent, so a client may
  continue from it at once.
- `GET /responses/{id}` returns the stored `response`; `DELETE` removes it. A response is
  visible only to the key that made it (and the admin key).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request, Response

from codec import ResponsesRequest
from facade.errors import FacadeError
from facade.inputs import CallerContext, caller_context
from facade.state import client_of, settings_of
from gateway.v1 import chat_pb2
from gateway.v1.response_service_pb2 import StoredResponse
from gateway_client import GatewayError, NotFoundError

__all__ = [
    "Conversation",
    "delete_response",
    "load_conversation",
    "retrieve_response",
    "store_response",
    "stored_response",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Conversation:
    """What a response continues: the chat request to route and the stored history."""

    params: chat_pb2.ChatParams
    history: list[chat_pb2.Message]


async def load_conversation(
    request: Request, caller: CallerContext, translated: ResponsesRequest
) -> Conversation:
    """The chat request with the previous response's conversation, when there is one; a
    400 `previous_response_not_found` when the caller's key has none by that id."""
    previous = translated.previous_response_id
    if previous is None:
        return Conversation(translated.params, [])
    try:
        stored = await stored_response(request, caller, previous)
    except NotFoundError:
        raise FacadeError(
            400,
            f"Previous response with id '{previous}' not found.",
            code="previous_response_not_found",
            param="previous_response_id",
        ) from None
    history = list(stored.conversation)
    return Conversation(translated.with_history(history), history)


async def stored_response(
    request: Request, caller: CallerContext, response_id: str
) -> StoredResponse:
    """The caller's stored response by id; NotFoundError when its key has none."""
    return await client_of(request).responses.get(
        response_id,
        api_key=caller.api_key,
        request_id=caller.request_id,
        timeout=settings_of(request).request_timeout_seconds,
    )


async def store_response(
    request: Request,
    caller: CallerContext,
    translated: ResponsesRequest,
    conversation: Conversation,
    response: dict[str, Any],
    output: chat_pb2.Message,
) -> None:
    """Stores an answered response (unless `store: false`)."""
    if not translated.store:
        return
    stored = StoredResponse(
        id=response["id"],
        response_json=orjson.dumps(response),
        conversation=[*conversation.history, *translated.input_messages(), output],
    )
    try:
        await client_of(request).responses.store(
            stored,
            api_key=caller.api_key,
            request_id=caller.request_id,
            timeout=settings_of(request).request_timeout_seconds,
        )
    except GatewayError as error:
        # The answer is made, billed and logged: the caller gets it. Only a continuation from
        # it will fail (400 previous_response_not_found), so say why here.
        log.warning("response %s was not stored: %s", response["id"], error.message)


async def retrieve_response(request: Request) -> Response:
    """`GET /responses/{id}`: the stored `response` object, as it was returned."""
    if request.query_params.get("stream") in ("true", "1"):
        raise FacadeError(
            400,
            "Replaying a stored response as a stream is not supported by this gateway.",
            code="invalid_request",
            param="stream",
        )
    stored = await stored_response(
        request, caller_context(request), request.path_params["response_id"]
    )
    return Response(stored.response_json, media_type="application/json")


async def delete_response(request: Request) -> Response:
    """`DELETE /responses/{id}`: OpenAI's deletion answer."""
    caller = caller_context(request)
    response_id = request.path_params["response_id"]
    await client_of(request).responses.delete(
        response_id,
        api_key=caller.api_key,
        request_id=caller.request_id,
        timeout=settings_of(request).request_timeout_seconds,
    )
    body = {"id": response_id, "object": "response", "deleted": True}
    return Response(orjson.dumps(body), media_type="application/json")
