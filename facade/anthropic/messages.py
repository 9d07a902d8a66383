"""`POST /v1/messages` and `/v1/messages/count_tokens`: Anthropic's Messages API over the
chat pipeline, so every configured chat model serves it with routing, limits, fallbacks,
logging and metrics unchanged."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import orjson
from fastapi import Request, Response

from codec import (
    MessageEvents,
    chat_params_from_anthropic,
    estimate_input_tokens,
    message_from_chat_result,
)
from facade.anthropic.caller import anthropic_caller
from facade.anthropic.errors import anthropic_error_body, anthropic_errors
from facade.anthropic.sse import event
from facade.disconnect import CLIENT_CLOSED, until_disconnected
from facade.errors import FacadeError
from facade.inputs import read_json_object
from facade.openai.chat import json_answer, open_stream, route, stream_headers
from facade.openai.sse import EventStreamResponse
from facade.state import client_of, settings_of
from gateway_client import ChatStream, GatewayError

__all__ = ["count_tokens", "create_message"]

_STREAM_CUT = "The stream ended before the answer was complete."


@anthropic_errors
async def create_message(request: Request) -> Response:
    """Runs a message through core; streams it when the body says `"stream": true`."""
    caller = anthropic_caller(request)
    body = await read_json_object(request, settings_of(request).max_body_bytes)
    params = chat_params_from_anthropic(body)
    if _stream(body):
        stream, info = await open_stream(request, caller, params)
        events = MessageEvents(message_id=f"msg_{info.request_id}", model=info.resolved_model)
        return EventStreamResponse(
            _events(stream, events),
            headers={**stream_headers(info), "request-id": info.request_id},
            on_close=stream.cancel,
        )
    answer = await until_disconnected(request, route(request, caller, params))
    if answer is None:
        return Response(status_code=CLIENT_CLOSED)
    message = message_from_chat_result(
        answer.result, message_id=f"msg_{answer.request_id}", model=answer.resolved_model
    )
    response = json_answer(message, answer)
    response.headers["request-id"] = answer.request_id  # what the Anthropic SDK reads
    return response


@anthropic_errors
async def count_tokens(request: Request) -> Response:
    """An estimate of the request's input tokens (`codec.estimate_input_tokens`), not the
    provider's count: the gateway calls no provider for it. The key must be good and the
    model one it may call (404 otherwise), as for a message."""
    settings = settings_of(request)
    caller = anthropic_caller(request)
    body = await read_json_object(request, settings.max_body_bytes)
    # Anthropic's count_tokens takes no max_tokens; the translation requires one.
    params = chat_params_from_anthropic({**body, "max_tokens": 1, "stream": False})
    models = await client_of(request).list_models(
        api_key=caller.api_key,
        request_id=caller.request_id,
        timeout=settings.request_timeout_seconds,
    )
    if all(model.id != params.model for model in models):
        message = f"The model `{params.model}` does not exist."
        raise FacadeError(404, message, code="model_not_found", param="model")
    tokens = estimate_input_tokens(params)
    return Response(orjson.dumps({"input_tokens": tokens}), media_type="application/json")


async def _events(stream: ChatStream, events: MessageEvents) -> AsyncGenerator[bytes, None]:
    for name, payload in events.start():
        yield event(name, payload)
    try:
        async for item in stream:
            pieces = events.delta(item.delta) if item.HasField("delta") else None
            if pieces is None:
                for name, payload in events.finish(item.result):
                    yield event(name, payload)
                return
            for name, payload in pieces:
                yield event(name, payload)
        yield event("error", anthropic_error_body(502, _STREAM_CUT))
    except GatewayError as err:
        # Headers are gone: report in-band; the Anthropic SDK raises it as an APIStatusError.
        yield event("error", anthropic_error_body(err.http_status, err.message))
    finally:
        stream.cancel()


def _stream(body: dict[str, Any]) -> bool:
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise FacadeError(400, "stream: must be a boolean.", code="invalid_request", param="stream")
    return bool(stream)
