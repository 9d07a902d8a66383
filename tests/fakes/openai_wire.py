"""The fake's OpenAI and Azure OpenAI endpoints: chat completions and embeddings."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp import web

from tests.fakes.script import (
    Behaviour,
    Plan,
    ServerState,
    answer_json,
    before_answer,
    plan,
    split_arguments,
    stream,
)

CREATED = 1_700_000_000


def _error(
    status: int, message: str, *, text: bool = False, retry_after: int | None = None
) -> web.Response:
    headers = {"retry-after": str(retry_after)} if retry_after is not None else None
    if text:
        return web.Response(
            status=status, text=f"upstream exploded ({status}): {message}", headers=headers
        )
    code = {400: "invalid_request_error", 401: "invalid_api_key", 429: "rate_limit_exceeded"}
    body = {
        "error": {
            "message": message,
            "type": code.get(status, "server_error"),
            "param": None,
            "code": str(status),
        }
    }
    return web.json_response(body, status=status, headers=headers)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _plan(body: dict[str, Any], behaviour: Behaviour) -> Plan:
    messages = body.get("messages") or []
    user_texts = [_text_of(m.get("content")) for m in messages if m.get("role") == "user"]
    results: list[str] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        results.insert(0, f"{message.get('tool_call_id')}={_text_of(message.get('content'))}")
    names = [t["function"]["name"] for t in body.get("tools") or [] if t.get("type") == "function"]
    choice = body.get("tool_choice")
    if choice == "none":
        names = []
    elif isinstance(choice, dict):
        names = [choice["function"]["name"]]
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    return plan(
        last_user_text=user_texts[-1] if user_texts else "",
        tool_results=results or None,
        tool_names=names,
        force_tools=behaviour.tools and choice != "none",
        parallel=body.get("parallel_tool_calls") is not False,
        max_tokens=limit,
        input_tokens=sum(len(_text_of(m.get("content")).split()) for m in messages),
    )


def _finish(answer: Plan) -> str:
    return "tool_calls" if answer.tool_calls else "length" if answer.truncated else "stop"


def _usage(answer: Plan) -> dict[str, Any]:
    return {
        "prompt_tokens": answer.input_tokens,
        "completion_tokens": answer.output_tokens,
        "total_tokens": answer.input_tokens + answer.output_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
    }


def _message(answer: Plan) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    if answer.tool_calls:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(answer.tool_calls)
        ]
    else:
        message["content"] = "".join(answer.pieces)
    return message


def _chunk(model: str, choices: list[dict[str, Any]], **more: Any) -> str:
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": choices,
        **more,
    }
    return json.dumps(body)


def _stream_events(
    model: str, answer: Plan, n: int, include_usage: bool, cumulative: bool = False
) -> list[tuple[None, str]]:
    sent = 0

    def delta(i: int, d: dict[str, Any], finish: str | None = None) -> str:
        nonlocal sent
        choice = {"index": i, "delta": d, "logprobs": None, "finish_reason": finish}
        extra: dict[str, Any] = {"usage": None} if include_usage else {}
        if cumulative:  # the usage so far, repeated in every chunk
            sent += 1 if d.get("content") else 0
            extra["usage"] = {
                "prompt_tokens": answer.input_tokens,
                "completion_tokens": sent,
                "total_tokens": answer.input_tokens + sent,
            }
        return _chunk(model, [choice], **extra)

    datas: list[str] = []
    for i in range(n):
        if answer.tool_calls:
            datas.append(delta(i, {"role": "assistant", "content": None}))
            for position, (name, arguments) in enumerate(answer.tool_calls):
                head = {"index": position, "id": f"call_{position}", "type": "function"}
                head["function"] = {"name": name, "arguments": ""}
                datas.append(delta(i, {"tool_calls": [head]}))
                for piece in split_arguments(arguments):
                    part = {"index": position, "function": {"arguments": piece}}
                    datas.append(delta(i, {"tool_calls": [part]}))
        else:
            datas.append(delta(i, {"role": "assistant", "content": ""}))
            datas.extend(delta(i, {"content": piece}) for piece in answer.pieces)
        datas.append(delta(i, {}, _finish(answer)))
    if include_usage:
        datas.append(_chunk(model, [], usage=_usage(answer)))
    datas.append("[DONE]")
    return [(None, data) for data in datas]


async def chat(
    request: web.Request, state: ServerState, body: dict[str, Any], model: str
) -> web.StreamResponse:
    behaviour = Behaviour.from_name(model)
    if not await before_answer(request, state, behaviour):
        return web.Response()
    if behaviour.fail_status:
        key = request.headers.get("authorization") or request.headers.get("api-key") or ""
        message = f"fake failure {behaviour.fail_status} for {model}"
        if behaviour.fail_status == 401:
            message = f"Incorrect API key provided: {key}"
        return _error(
            behaviour.fail_status,
            message,
            text=behaviour.fail_text,
            retry_after=behaviour.retry_after,
        )
    if not body.get("messages"):
        return _error(400, "'messages' is a required property")
    answer = _plan(body, behaviour)
    n = int(body.get("n") or 1)
    if not body.get("stream"):
        return await answer_json(
            request,
            state,
            behaviour,
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": CREATED,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {
                        "index": i,
                        "message": _message(answer),
                        "logprobs": None,
                        "finish_reason": _finish(answer),
                    }
                    for i in range(n)
                ],
                "usage": _usage(answer),
            },
        )
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    events = _stream_events(model, answer, n, include_usage, behaviour.cumulative_usage)
    error = (
        None,
        json.dumps({"error": {"message": "fake overload mid-stream", "type": "server_error"}}),
    )
    return await stream(request, state, behaviour, events, error)


def _vector(text: str, dimensions: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [(digest[i % len(digest)] - 128) / 128 for i in range(dimensions)]


async def embeddings(
    request: web.Request, state: ServerState, body: dict[str, Any], model: str
) -> web.StreamResponse:
    behaviour = Behaviour.from_name(model)
    if not await before_answer(request, state, behaviour):
        return web.Response()
    if behaviour.fail_status:
        return _error(
            behaviour.fail_status,
            f"fake failure {behaviour.fail_status} for {model}",
            retry_after=behaviour.retry_after,
        )
    inputs = body.get("input")
    texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
    if body.get("encoding_format", "float") != "float":
        return _error(400, "the fake answers encoding_format float only")
    dimensions = int(body.get("dimensions") or 8)
    tokens = sum(len(str(t).split()) for t in texts)
    return await answer_json(
        request,
        state,
        behaviour,
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": _vector(str(t), dimensions)}
                for i, t in enumerate(texts)
            ],
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        },
    )


async def azure_checks(request: web.Request) -> web.Response | None:
    """Azure's own refusals: no `api-key`, or no `api-version`."""
    if not request.headers.get("api-key"):
        return _error(401, "Access denied due to invalid subscription key or wrong API endpoint.")
    if not request.query.get("api-version"):
        return _error(404, "Resource not found")
    return None
