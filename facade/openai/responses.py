"""`POST /responses`: OpenAI's Responses API over the chat pipeline, so every configured chat
model serves it with routing, limits, fallbacks, logging and metrics unchanged.

Nothing is stored: `previous_response_id` is refused (codec/responses_request.py), and a
response's id (`resp_<request id>`) leads to the call's log record.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from fastapi import Request, Response

from codec import ResponseEvents, response_from_chat_result, responses_request_from_json
from facade.anthropic.sse import event
from facade.disconnect import CLIENT_CLOSED, until_disconnected
from facade.errors import FacadeError
from facade.inputs import caller_context, read_json_object
from facade.openai.chat import json_answer, open_stream, route, stream_headers
from facade.openai.sse import EventStreamResponse
from facade.state import settings_of
from gateway_client import ChatStream, GatewayError

__all__ = ["create_response"]

_STREAM_CUT = "The stream ended before the answer was complete."


async def create_response(request: Request) -> Response:
    """Runs a response through core; streams its events when the body says `"stream": true`."""
    caller = caller_context(request)
    body = await read_json_object(request, settings_of(request).max_body_bytes)
    translated = responses_request_from_json(body)
    if _streaming(body):
        stream, info = await open_stream(request, caller, translated.params)
        events = ResponseEvents(
            translated.echo,
            response_id=f"resp_{info.request_id}",
            model=info.resolved_model,
            created_at=int(time.time()),
        )
        return EventStreamResponse(
            _events(stream, events), headers=stream_headers(info), on_close=stream.cancel
        )
    answer = await until_disconnected(request, route(request, caller, translated.params))
    if answer is None:
        return Response(status_code=CLIENT_CLOSED)
    response = response_from_chat_result(
        answer.result,
        translated.echo,
        response_id=f"resp_{answer.request_id}",
        model=answer.resolved_model,
        created_at=answer.result.create_time.seconds or int(time.time()),
    )
    return json_answer(response, answer)


async def _events(stream: ChatStream, events: ResponseEvents) -> AsyncGenerator[bytes, None]:
    for name, payload in events.start():
        yield event(name, payload)
    try:
        async for item in stream:
            if not item.HasField("delta"):
                for name, payload in events.finish(item.result):
                    yield event(name, payload)
                return
            for name, payload in events.delta(item.delta):
                yield event(name, payload)
        for name, payload in events.fail("server_error", _STREAM_CUT):
            yield event(name, payload)
    except GatewayError as err:
        # Headers are gone: the failure is the stream's last event, as OpenAI sends it.
        code = "rate_limit_exceeded" if err.http_status == 429 else "server_error"
        for name, payload in events.fail(code, err.message):
            yield event(name, payload)
    finally:
        stream.cancel()


def _streaming(body: Mapping[str, Any]) -> bool:
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise FacadeError(
            400, "'stream' must be a boolean.", code="invalid_request", param="stream"
        )
    return bool(stream)
