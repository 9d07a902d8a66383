"""`POST /chat/completions`: one JSON answer, or an SSE stream byte-compatible with OpenAI's."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from typing import Any

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
from facade.inputs import caller_context, read_json_object
from facade.openai.sse import DONE, EventStreamResponse, event
from facade.state import client_of, settings_of
from gateway_client import ChatStream, GatewayError

__all__ = ["create_chat_completion"]

# A stream that ends without its final result event was cut short somewhere behind core.
_STREAM_CUT = error_body(
    502, "The stream ended before the answer was complete.", code="upstream_stream_cut"
)


async def create_chat_completion(request: Request) -> Response:
    """Runs a chat completion through core; streams it when the body says `"stream": true`."""
    settings = settings_of(request)
    caller = caller_context(request)
    body = await read_json_object(request, settings.max_body_bytes)
    params = chat_params_from_json(body)
    streaming, include_usage = _stream_options(body)
    client = client_of(request)
    if not streaming:
        answer = await until_disconnected(
            request,
            client.route(
                params,
                metadata_json=caller.metadata_json,
                api_key=caller.api_key,
                request_id=caller.request_id,
                timeout=settings.request_timeout_seconds,
            ),
        )
        if answer is None:
            return Response(status_code=CLIENT_CLOSED)
        return Response(
            orjson.dumps(chat_result_to_json(answer.result)),
            media_type="application/json",
            headers={
                **answer.headers,
                "x-tfy-resolved-model": answer.resolved_model,
                "x-request-id": answer.request_id,
            },
        )

    stream = client.stream_route(
        params,
        metadata_json=caller.metadata_json,
        api_key=caller.api_key,
        request_id=caller.request_id,
        timeout=settings.request_timeout_seconds,
    )
    try:
        # Before the response exists, so an early failure is a real HTTP error, not a 200.
        info = await stream.start()
    except BaseException:
        stream.cancel()
        raise
    return EventStreamResponse(
        _events(
            stream,
            completion_id=f"chatcmpl-{info.request_id}",
            model=info.resolved_model,
            include_usage=include_usage,
        ),
        headers={
            **info.headers,
            "x-tfy-resolved-model": info.resolved_model,
            "x-request-id": info.request_id,
            "cache-control": "no-cache",
        },
        on_close=stream.cancel,
    )


async def _events(
    stream: ChatStream, *, completion_id: str, model: str, include_usage: bool
) -> AsyncGenerator[bytes, None]:
    created = int(time.time())  # one value for every chunk, as OpenAI does
    ids: dict[str, Any] = {"completion_id": completion_id, "model": model, "created": created}
    try:
        async for item in stream:
            if item.HasField("delta"):
                yield event(chunk_to_json(item.delta, **ids))
                continue
            for chunk in finish_chunks_to_json(item.result, **ids):
                yield event(chunk)
            if include_usage:
                yield event(usage_chunk_to_json(item.result, **ids))
            yield DONE
            return
        yield event(_STREAM_CUT)
    except GatewayError as err:
        # Headers are gone: report in-band, and no [DONE], so the OpenAI SDK raises APIError.
        yield event(gateway_error_body(err))
    finally:
        stream.cancel()


def _stream_options(body: dict[str, Any]) -> tuple[bool, bool]:
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
