"""The fake's Anthropic Messages endpoint, strict about what real Anthropic refuses."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.fakes.script import (
    Behaviour,
    Plan,
    ServerState,
    before_answer,
    plan,
    split_arguments,
    stream,
)

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}


def _error(status: int, message: str, *, text: bool = False) -> web.Response:
    if text:
        return web.Response(status=status, text=f"upstream exploded ({status}): {message}")
    error = {"type": _ERROR_TYPES.get(status, "api_error"), "message": message}
    return web.json_response({"type": "error", "error": error}, status=status)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(b.get("text", "") for b in content if b.get("type") == "text")


def _problem(request: web.Request, body: dict[str, Any]) -> str | None:
    """What real Anthropic would refuse with a 400 (the subset the translation could get wrong)."""
    if not request.headers.get("anthropic-version"):
        return "anthropic-version: header is required"
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    messages = body.get("messages")
    if not messages:
        return "messages: at least one message is required"
    tool_ids: set[str] = set()
    for i, message in enumerate(messages):
        if message.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        content = message.get("content")
        blocks = content if isinstance(content, list) else []
        for block in blocks:
            if block.get("type") == "tool_use":
                if not isinstance(block.get("input"), dict):
                    return f"messages.{i}: tool_use.input must be an object"
                tool_ids.add(block["id"])
            if block.get("type") == "tool_result" and block.get("tool_use_id") not in tool_ids:
                return f"messages.{i}: tool_result block(s) with no matching tool_use"
    return None


def _plan(body: dict[str, Any], behaviour: Behaviour) -> Plan:
    messages = body["messages"]
    last = messages[-1]
    blocks = last["content"] if isinstance(last["content"], list) else []
    results = [
        f"{b['tool_use_id']}={_text_of(b.get('content') or '')}"
        for b in blocks
        if b.get("type") == "tool_result"
    ]
    user_texts = [_text_of(m["content"]) for m in messages if m["role"] == "user"]
    choice = body.get("tool_choice") or {}
    names = [t["name"] for t in body.get("tools") or [] if "name" in t]
    if choice.get("type") == "none":
        names = []
    elif choice.get("type") == "tool":
        names = [choice["name"]]
    system = body.get("system") or ""
    return plan(
        last_user_text=next((t for t in reversed(user_texts) if t), ""),
        tool_results=results or None,
        tool_names=names,
        force_tools=behaviour.tools and choice.get("type") != "none",
        parallel=not choice.get("disable_parallel_tool_use", False),
        max_tokens=body["max_tokens"],
        input_tokens=len(_text_of(system).split())
        + sum(len(_text_of(m["content"]).split()) for m in messages),
    )


def _stop_reason(answer: Plan) -> str:
    return "tool_use" if answer.tool_calls else "max_tokens" if answer.truncated else "end_turn"


def _usage(answer: Plan, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": answer.input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 3,
    }


def _message(model: str, answer: Plan) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": "".join(answer.pieces)}]
    for i, (name, arguments) in enumerate(answer.tool_calls):
        tool_use = {"type": "tool_use", "id": f"toolu_{i}", "name": name}
        content.append({**tool_use, "input": json.loads(arguments)})
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _stop_reason(answer),
        "stop_sequence": None,
        "usage": _usage(answer, answer.output_tokens),
    }


def _events(model: str, answer: Plan) -> list[tuple[str, str]]:
    start = {**_message(model, answer), "content": [], "stop_reason": None}
    start["usage"] = _usage(answer, 1)
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
    ]
    for piece in answer.pieces:
        delta = {"type": "text_delta", "text": piece}
        events.append({"type": "content_block_delta", "index": 0, "delta": delta})
    events.append({"type": "content_block_stop", "index": 0})
    for position, (name, arguments) in enumerate(answer.tool_calls):
        index = position + 1  # block 0 is the text: block indexes are not tool-call positions
        block = {"type": "tool_use", "id": f"toolu_{position}", "name": name, "input": {}}
        events.append({"type": "content_block_start", "index": index, "content_block": block})
        for piece in split_arguments(arguments):
            delta = {"type": "input_json_delta", "partial_json": piece}
            events.append({"type": "content_block_delta", "index": index, "delta": delta})
        events.append({"type": "content_block_stop", "index": index})
    stop = {"stop_reason": _stop_reason(answer), "stop_sequence": None}
    usage = {"output_tokens": answer.output_tokens}
    events.append({"type": "message_delta", "delta": stop, "usage": usage})
    events.append({"type": "message_stop"})
    return [(e["type"], json.dumps(e)) for e in events]


async def messages(
    request: web.Request, state: ServerState, body: dict[str, Any]
) -> web.StreamResponse:
    model = str(body.get("model", ""))
    behaviour = Behaviour.from_name(model)
    if not await before_answer(request, state, behaviour):
        return web.Response()
    if not request.headers.get("x-api-key"):
        return _error(401, "x-api-key header is required")
    if behaviour.fail_status:
        message = f"fake failure {behaviour.fail_status} for {model}"
        if behaviour.fail_status == 401:
            message = f"invalid x-api-key: {request.headers['x-api-key']}"
        return _error(behaviour.fail_status, message, text=behaviour.fail_text)
    problem = _problem(request, body)
    if problem:
        return _error(400, problem)
    answer = _plan(body, behaviour)
    if not body.get("stream"):
        return web.json_response(_message(model, answer))
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    return await stream(
        request, state, behaviour, _events(model, answer), ("error", json.dumps(error))
    )
