"""`POST /chat/completions`: one JSON answer, or an SSE stream byte-compatible with OpenAI's.

Also the pieces every route served by the chat pipeline shares (facade/openai/completions.py,
facade/openai/responses.py): the unary call, the started stream, the streamed answer with its
in-band errors, the answer's headers.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

import orjson
from fastapi import Request, Response

from codec import (
    chat_params_from_json,
    chat_result_to_json,
    chunk_to_json,
    finish_chunks_to_json,
    usage_chunk_to_json,
)
from facade.disconnect import CLIENT_CLOSED, until_disconnected
from facade.errors import FacadeError, error_body, gateway_error_body
from facade.inputs import CallerContext, caller_context, read_json_object
from facade.openai.sse import DONE, EventStreamResponse, event
from facade.state import client_of, settings_of
from gateway.v1 import chat_pb2
from gateway_client import ChatStream, GatewayError, RouteResult, StreamInfo

__all__ = [
    "ChunkEncoder",
    "create_chat_completion",
    "json_answer",
    "open_stream",
    "route",
    "stream_answer",
    "stream_headers",
    "stream_options",
]

# A stream that ends without its final result event was cut short somewhere behind core.
_STREAM_CUT = error_body(
    502, "The stream ended before the answer was complete.", code="upstream_stream_cut"
)


class ChunkEncoder(Protocol):
    """Turns a chat stream's events into one API's chunks (JSON objects, one per SSE event)."""

    def delta(self, delta: chat_pb2.ChatDelta) -> Iterable[dict[str, Any]]: ...

    def finish(self, result: chat_pb2.ChatResult) -> Iterable[dict[str, Any]]: ...

    def usage(self, result: chat_pb2.ChatResult) -> dict[str, Any]: ...


async def create_chat_completion(request: Request) -> Response:
    """Runs a chat completion through core; streams it when the body says `"stream": true`."""
    caller = caller_context(request, "chat.completions")
    body = await read_json_object(request, settings_of(request).max_body_bytes)
    params = chat_params_from_json(body)
    streaming, include_usage = stream_options(body)
    if streaming:
        return await stream_answer(request, caller, params, _ChatChunks, include_usage)
    answer = await until_disconnected(request, route(request, caller, params))
    if answer is None:
        return Response(status_code=CLIENT_CLOSED)
    return json_answer(chat_result_to_json(answer.result), answer)


def route(
    request: Request, caller: CallerContext, params: chat_pb2.ChatParams
) -> Awaitable[RouteResult]:
    """The unary chat call of `params` through core, as `caller`, within the facade's deadline."""
    return client_of(request).route(
        params,
        metadata_json=caller.metadata_json,
        api=caller.api,
        api_key=caller.api_key,
        request_id=caller.request_id,
        timeout=settings_of(request).request_timeout_seconds,
    )


def json_answer(body: Any, answer: RouteResult) -> Response:
    """The 200 JSON response of a unary call, with the call's headers."""
    return Response(
        orjson.dumps(body),
        media_type="application/json",
        headers=_answer_headers(answer.headers, answer.request_id, answer.resolved_model),
    )


def _answer_headers(
    headers: Mapping[str, str], request_id: str, resolved_model: str
) -> dict[str, str]:
    """What core said about a call (`x-tfy-*`, `x-ratelimit-*`), its id and the model that
    answered."""
    return {**headers, "x-tfy-resolved-model": resolved_model, "x-request-id": request_id}


async def stream_answer(
    request: Request,
    caller: CallerContext,
    params: chat_pb2.ChatParams,
    encoder: Callable[[StreamInfo], ChunkEncoder],
    include_usage: bool,
) -> Response:
    """The streamed call of `params` as SSE, its events encoded by `encoder(info)`."""
    stream, info = await open_stream(request, caller, params)
    return EventStreamResponse(
        _events(stream, encoder(info), include_usage=include_usage),
        headers=stream_headers(info),
        on_close=stream.cancel,
    )


async def open_stream(
    request: Request, caller: CallerContext, params: chat_pb2.ChatParams
) -> tuple[ChatStream, StreamInfo]:
    """The streamed call of `params` through core, started: an early failure (a bad key, an
    unknown model, a provider refusing) raises here, so it is a real HTTP error, not a 200."""
    stream = client_of(request).stream_route(
        params,
        metadata_json=caller.metadata_json,
        api=caller.api,
        api_key=caller.api_key,
        request_id=caller.request_id,
        timeout=settings_of(request).request_timeout_seconds,
    )
    try:
        info = await stream.start()
    except BaseException:
        stream.cancel()
        raise
    return stream, info


def stream_headers(info: StreamInfo) -> dict[str, str]:
    """The headers of a streamed answer: the call's, and no caching."""
    return {
        **_answer_headers(info.headers, info.request_id, info.resolved_model),
        "cache-control": "no-cache",
    }


async def _events(
    stream: ChatStream, encoder: ChunkEncoder, *, include_usage: bool
) -> AsyncGenerator[bytes, None]:
    try:
        async for item in stream:
            if item.HasField("delta"):
                for chunk in encoder.delta(item.delta):
                    yield event(chunk)
                continue
            for chunk in encoder.finish(item.result):
                yield event(chunk)
            if include_usage:
                yield event(encoder.usage(item.result))
            yield DONE
            return
        yield event(_STREAM_CUT)
    except GatewayError as err:
        # Headers are gone: report in-band, and no [DONE], so the OpenAI SDK raises APIError.
        yield event(gateway_error_body(err))
    finally:
        stream.cancel()


class _ChatChunks:
    """`chat.completion.chunk` objects."""

    __slots__ = ("_ids",)

    def __init__(self, info: StreamInfo) -> None:
        self._ids: dict[str, Any] = {
            "completion_id": f"chatcmpl-{info.request_id}",
            "model": info.resolved_model,
            "created": int(time.time()),  # one value for every chunk, as OpenAI does
        }

    def delta(self, delta: chat_pb2.ChatDelta) -> tuple[dict[str, Any]]:
        return (chunk_to_json(delta, **self._ids),)

    def finish(self, result: chat_pb2.ChatResult) -> list[dict[str, Any]]:
        return finish_chunks_to_json(result, **self._ids)

    def usage(self, result: chat_pb2.ChatResult) -> dict[str, Any]:
        return usage_chunk_to_json(result, **self._ids)


def stream_options(body: Mapping[str, Any]) -> tuple[bool, bool]:
    """(`stream`, `stream_options.include_usage`), checked, both default false."""
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _invalid("'stream' must be a boolean.", "stream")
    options = body.get("stream_options")
    if options is None:
        return bool(stream), False
    if not isinstance(options, dict):
        raise _invalid("'stream_options' must be an object.", "stream_options")
    include_usage = options.get("include_usage")
    if include_usage is not None and not isinstance(include_usage, bool):
        raise _invalid(
            "'stream_options.include_usage' must be a boolean.", "stream_options.include_usage"
        )
    return bool(stream), bool(include_usage)


def _invalid(message: str, param: str) -> FacadeError:
    return FacadeError(400, message, code="invalid_request", param=param)
