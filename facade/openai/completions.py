"""`POST /completions`: OpenAI's legacy completions, served by chat models through core.

Each prompt is one chat call (so routing, limits, fallbacks, logging and metrics are chat's);
several prompts run concurrently under one request id and answer as one `text_completion`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Sequence

from fastapi import Request, Response

from codec import (
    CompletionChunks,
    CompletionRequest,
    completion_request_from_json,
    completion_to_json,
)
from facade.disconnect import CLIENT_CLOSED, until_disconnected
from facade.errors import FacadeError
from facade.inputs import CallerContext, caller_context, read_json_object
from facade.openai.chat import json_answer, route, stream_answer, stream_options
from facade.state import settings_of
from gateway_client import RouteResult, StreamInfo

__all__ = ["create_completion"]


async def create_completion(request: Request) -> Response:
    """Runs a completion through core; streams it when the body says `"stream": true`."""
    caller = caller_context(request, "completions")
    body = await read_json_object(request, settings_of(request).max_body_bytes)
    completion = completion_request_from_json(body)
    streaming, include_usage = stream_options(body)
    if streaming:
        return await _stream(request, caller, completion, include_usage)
    answers = await until_disconnected(request, _route_all(request, caller, completion))
    if answers is None:
        return Response(status_code=CLIENT_CLOSED)
    first = answers[0]
    results = [answer.result for answer in answers]
    body = completion_to_json(completion, results, completion_id=f"cmpl-{first.request_id}")
    return json_answer(body, first)


async def _stream(
    request: Request, caller: CallerContext, completion: CompletionRequest, include_usage: bool
) -> Response:
    if len(completion.prompts) > 1:
        raise FacadeError(
            400,
            "Streaming takes one prompt; send the prompts in separate requests.",
            code="invalid_request",
            param="prompt",
        )
    echo = completion.prompts[0] if completion.echo else None

    def encoder(info: StreamInfo) -> CompletionChunks:
        return CompletionChunks(
            completion_id=f"cmpl-{info.request_id}",
            model=info.resolved_model,
            created=int(time.time()),  # one value for every chunk, as OpenAI does
            echo=echo,
        )

    return await stream_answer(request, caller, completion.calls[0], encoder, include_usage)


async def _route_all(
    request: Request, caller: CallerContext, completion: CompletionRequest
) -> Sequence[RouteResult]:
    """Every prompt's chat call, run concurrently; the first failure cancels the others."""
    if len(completion.calls) == 1:
        return [await route(request, caller, completion.calls[0])]
    # One id for all the calls: the answer's id leads to their log records (`<id>.<suffix>`).
    shared = dataclasses.replace(caller, request_id=caller.request_id or uuid.uuid4().hex)
    calls = [asyncio.ensure_future(route(request, shared, params)) for params in completion.calls]
    try:
        return await asyncio.gather(*calls)
    finally:
        for call in calls:
            call.cancel()  # a no-op for calls that are done
