"""`POST /responses`: OpenAI's Responses API over the chat pipeline, so every configured chat
model serves it with routing, limits, fallbacks, logging and metrics unchanged.

A response's id (`resp_<log id>`, the call's `x-tfy-log-id`) leads to its log record;
storing responses and continuing from one is facade/openai/stored_responses.py's.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any

from fastapi import Request, Response

from codec import (
    ResponseEvents,
    ResponsesRequest,
    response_from_chat_result,
    responses_request_from_json,
)
from facade.anthropic.sse import event
from facade.disconnect import CLIENT_CLOSED, until_disconnected
from facade.errors import FacadeError
from facade.inputs import CallerContext, caller_context, read_json_object
from facade.openai.chat import json_answer, open_stream, route, stream_headers
from facade.openai.item_references import resolve_item_references
from facade.openai.sse import EventStreamResponse
from facade.openai.stored_responses import Conversation, load_conversation, store_response
from facade.state import settings_of
from gateway.v1 import chat_pb2
from gateway_client import ChatStream, GatewayError

__all__ = ["create_response"]

_STREAM_CUT = "The stream ended before the answer was complete."


async def create_response(request: Request) -> Response:
    """Runs a response through core; streams its events when the body says `"stream": true`."""
    caller = caller_context(request, "responses")
    body = await read_json_object(request, settings_of(request).max_body_bytes)
    body = await resolve_item_references(request, caller, body)
    translated = responses_request_from_json(body)
    conversation = await load_conversation(request, caller, translated)
    if _streaming(body):
        stream, info = await open_stream(request, caller, conversation.params)
        events = ResponseEvents(
            translated.echo,
            response_id=f"resp_{info.log_id}",
            model=info.resolved_model,
            created_at=int(time.time()),
        )

        async def store(response: dict[str, Any], output: chat_pb2.Message) -> None:
            await store_response(request, caller, translated, conversation, response, output)

        return EventStreamResponse(
            _events(stream, events, store), headers=stream_headers(info), on_close=stream.cancel
        )
    answer = await until_disconnected(request, _answer(request, caller, translated, conversation))
    if answer is None:
        return Response(status_code=CLIENT_CLOSED)
    return answer


async def _answer(
    request: Request,
    caller: CallerContext,
    translated: ResponsesRequest,
    conversation: Conversation,
) -> Response:
    answer = await route(request, caller, conversation.params)
    response = response_from_chat_result(
        answer.result,
        translated.echo,
        response_id=f"resp_{answer.log_id}",
        model=answer.resolved_model,
        created_at=answer.result.create_time.seconds or int(time.time()),
    )
    await store_response(
        request, caller, translated, conversation, response, _output(answer.result)
    )
    return json_answer(response, answer)


def _output(result: chat_pb2.ChatResult) -> chat_pb2.Message:
    """The answer as the assistant turn of a stored conversation: what the provider said
    about its answer (`refusal`, `annotations`, ... in the extras) is no input to the next."""
    message = chat_pb2.Message(role=chat_pb2.ROLE_ASSISTANT)
    if result.choices:
        message.CopyFrom(result.choices[0].message)
        message.ClearField("extras")
    return message


async def _events(
    stream: ChatStream,
    events: ResponseEvents,
    store: Callable[[dict[str, Any], chat_pb2.Message], Awaitable[None]],
) -> AsyncGenerator[bytes, None]:
    for name, payload in events.start():
        yield event(name, payload)
    try:
        async for item in stream:
            if not item.HasField("delta"):
                finished = events.finish(item.result)
                # Stored before the last event goes out: a client continuing from this
                # response as soon as the stream ends finds it.
                await store(finished[-1][1]["response"], _output(item.result))
                for name, payload in finished:
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
