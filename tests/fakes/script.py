"""What the fake upstream answers, chosen by the model (or Azure deployment) name.

Names containing these markers change the behaviour (they combine, e.g. `tools-cut-3`):

    fail-<status>       answer <status> with the provider's error body (the key is echoed
                        in the message on 401, as real providers half-do, to test redaction)
    failtext-<status>   answer <status> with a plain-text body
    slow-<ms>           wait <ms> before answering
    drop                close the connection without answering
    cut-<n>             stream n events, then close the connection mid-body
    trunc-<n>           stream n events, then end the body cleanly (no [DONE] / message_stop)
    hold-<n>            stream n events, then keep the stream open until the client leaves
    streamerror-<n>     stream n events, then the provider's in-stream error event
    tools               call tools even when the request has none (a `lookup` tool)
    cumusage            (OpenAI wire) every streamed chunk carries the usage so far, as some
                        OpenAI-compatible servers send it: cumulative, not per chunk
    retryafter-<s>      a failure answer carries `Retry-After: <s>` (with fail-<status>)
    gap-<ms>            wait <ms> between streamed events
    trickle-<ms>        (OpenAI wire) send the answer one byte every <ms> ms, so bytes keep
                        coming but the answer takes minutes
    big-<n>             (OpenAI wire) pad the JSON answer to about <n> bytes, chunked (no
                        Content-Length), written lazily so the fake itself stays small
    biglen-<n>          the same with a Content-Length header announcing the size
    gzip                (with big-<n>) gzip the answer, so a few KB on the wire inflate to <n>
    bigevent-<n>        stream one `data:` line of <n> bytes before the answer's events

Otherwise the answer is deterministic: `echo: <last user text>`, one word per streamed
event; tool calls (one per tool, so parallel when there are several) whenever the request
has tools and the conversation does not end with tool results.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


def _int(pattern: str, name: str) -> int | None:
    match = re.search(pattern, name)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Behaviour:
    fail_status: int | None = None
    fail_text: bool = False
    slow_ms: int = 0
    drop: bool = False
    cut_after: int | None = None
    trunc_after: int | None = None
    hold_after: int | None = None
    error_after: int | None = None
    tools: bool = False
    cumulative_usage: bool = False
    retry_after: int | None = None
    gap_ms: int = 0
    trickle_ms: int | None = None
    big_bytes: int | None = None
    big_with_length: bool = False
    gzip: bool = False
    big_event_bytes: int | None = None

    @classmethod
    def from_name(cls, name: str) -> Behaviour:
        text_status = _int(r"failtext-(\d{3})", name)
        return cls(
            fail_status=text_status or _int(r"fail-(\d{3})", name),
            fail_text=text_status is not None,
            slow_ms=_int(r"slow-(\d+)", name) or 0,
            drop="drop" in name,
            cut_after=_int(r"cut-(\d+)", name),
            trunc_after=_int(r"trunc-(\d+)", name),
            hold_after=_int(r"hold-(\d+)", name),
            error_after=_int(r"streamerror-(\d+)", name),
            tools="tools" in name,
            cumulative_usage="cumusage" in name,
            retry_after=_int(r"retryafter-(\d+)", name),
            gap_ms=_int(r"gap-(\d+)", name) or 0,
            trickle_ms=_int(r"trickle-(\d+)", name),
            big_bytes=_int(r"big(?:len)?-(\d+)", name),
            big_with_length="biglen-" in name,
            gzip="gzip" in name,
            big_event_bytes=_int(r"bigevent-(\d+)", name),
        )


@dataclass
class Plan:
    """A provider-neutral answer each wire format renders."""

    pieces: list[str]
    tool_calls: list[tuple[str, str]]
    """(function name, arguments JSON) per call."""
    input_tokens: int
    truncated: bool = False

    @property
    def output_tokens(self) -> int:
        return len(self.pieces) + sum(len(arguments) // 4 + 1 for _, arguments in self.tool_calls)


def words(text: str) -> list[str]:
    return re.findall(r"\S+\s*", text)


def plan(
    *,
    last_user_text: str,
    tool_results: Sequence[str] | None,
    tool_names: Sequence[str],
    force_tools: bool,
    parallel: bool,
    max_tokens: int | None,
    input_tokens: int,
) -> Plan:
    """The answer: tool results summarised, tool calls, or an echo of the user's text."""
    if tool_results is not None:
        text = "tool results: " + "; ".join(tool_results)
    else:
        text = f"echo: {last_user_text}"
    names = list(tool_names) or (["lookup"] if force_tools else [])
    if tool_results is None and names:
        if not parallel:
            names = names[:1]
        calls = [
            (name, json.dumps({"query": last_user_text, "call": i}, separators=(",", ":")))
            for i, name in enumerate(names)
        ]
        return Plan(pieces=words("Calling tools."), tool_calls=calls, input_tokens=input_tokens)
    pieces = words(text)
    truncated = max_tokens is not None and len(pieces) > max_tokens
    if truncated:
        pieces = pieces[:max_tokens]
    return Plan(pieces=pieces, tool_calls=[], input_tokens=input_tokens, truncated=truncated)


def split_arguments(arguments: str) -> list[str]:
    """Arguments in two pieces, so clients must append them."""
    middle = len(arguments) // 2
    return [arguments[:middle], arguments[middle:]]


@dataclass
class ServerState:
    """What handlers share with the harness: the stop signal and who closed a connection."""

    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    server_closed: set[int] = field(default_factory=set)
    """ids of requests whose connection the fake closed itself (not a client disconnect)."""
    client_left: set[int] = field(default_factory=set)
    """ids of requests whose client closed the connection while the fake was still writing
    (a handler that is not waiting when the client leaves learns it from a failed write)."""

    def close_connection(self, request: web.Request) -> None:
        self.server_closed.add(id(request))
        if request.transport is not None:
            # close(), not abort(): what was written still reaches the client first.
            request.transport.close()


async def before_answer(request: web.Request, state: ServerState, behaviour: Behaviour) -> bool:
    """Applies `slow` and `drop`; False when the connection is gone and nothing may be sent."""
    if behaviour.slow_ms:
        await asyncio.sleep(behaviour.slow_ms / 1000)
    if behaviour.drop:
        state.close_connection(request)
        return False
    return True


SseEvent = tuple[str | None, str]


async def stream(
    request: web.Request,
    state: ServerState,
    behaviour: Behaviour,
    events: Sequence[SseEvent],
    error_event: SseEvent,
) -> web.StreamResponse:
    """Writes SSE events, honouring cut / trunc / hold / streamerror after n events."""
    response = web.StreamResponse(
        headers={"content-type": "text/event-stream", "cache-control": "no-cache"}
    )
    await response.prepare(request)
    if behaviour.big_event_bytes is not None:
        await response.write(b"data: ")
        if not await _write_filler(request, state, response, behaviour.big_event_bytes):
            return response
        await response.write(b"\n\n")
    for count, (name, data) in enumerate(events):
        if count and behaviour.gap_ms:
            await asyncio.sleep(behaviour.gap_ms / 1000)
        if count == behaviour.cut_after:
            state.close_connection(request)
            return response
        if count == behaviour.trunc_after:
            break
        if count == behaviour.hold_after:
            await state.stopping.wait()
            break
        if count == behaviour.error_after:
            await response.write(_frame(*error_event))
            break
        await response.write(_frame(name, data))
    await response.write_eof()
    return response


def _frame(name: str | None, data: str) -> bytes:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {data}\n\n".encode()


_FILLER = b"x" * 65536


async def _write_filler(
    request: web.Request, state: ServerState, response: web.StreamResponse, size: int
) -> bool:
    """Writes `size` filler bytes; False when the client left first."""
    # One shared 64 KiB block, written again and again: a 50 MB answer costs the fake nothing.
    try:
        while size > 0:
            await response.write(_FILLER[:size])
            size -= len(_FILLER)
    except ConnectionResetError:
        state.client_left.add(id(request))
        return False
    return True


async def answer_json(
    request: web.Request, state: ServerState, behaviour: Behaviour, payload: dict[str, Any]
) -> web.StreamResponse:
    """A JSON answer, honouring `trickle`, `big` and `biglen`."""
    body = json.dumps(payload).encode()
    if behaviour.big_bytes is not None:
        head, tail = b'{"padding": "', b'", ' + body[1:]
        filler = max(behaviour.big_bytes - len(head) - len(tail), 0)
        response = web.StreamResponse(headers={"content-type": "application/json"})
        if behaviour.big_with_length:
            response.content_length = len(head) + filler + len(tail)
        if behaviour.gzip:
            response.enable_compression(web.ContentCoding.gzip)
        await response.prepare(request)
        await response.write(head)
        if not await _write_filler(request, state, response, filler):
            return response
        await response.write(tail)
        await response.write_eof()
        return response
    if behaviour.trickle_ms is not None:
        response = web.StreamResponse(headers={"content-type": "application/json"})
        await response.prepare(request)
        try:
            for index in range(len(body)):
                await response.write(body[index : index + 1])
                await asyncio.sleep(behaviour.trickle_ms / 1000)
        except ConnectionResetError:
            state.client_left.add(id(request))
            return response
        await response.write_eof()
        return response
    return web.json_response(body=body)
