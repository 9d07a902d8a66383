"""Chat calls against a real gateway process, each ending in one counted `Outcome`.

A reliability test asks "what did every caller get?": a whole answer, a clean error in
OpenAI's shape, or nothing because the gateway never took the call. Anything else (a stream
cut without a word, an error in another shape, a hang) is a defect the tallies make visible.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx
import orjson


class Outcome(StrEnum):
    """What one call got."""

    ANSWERED = "answered"
    """200 and the whole answer: a body with choices, or a stream up to `[DONE]`."""
    ERROR = "error"
    """An HTTP error in OpenAI's shape (`{"error": {message, type, param, code}}`)."""
    STREAM_ERROR = "stream_error"
    """A 200 stream that ended with an in-band error event in OpenAI's shape."""
    REFUSED = "refused"
    """The connection was refused: the gateway was not listening, it took nothing."""
    UNANSWERED = "unanswered"
    """The server closed the connection before any response byte (an idle keep-alive
    connection closed as the request went out): taken only if a log record says so."""
    CUT = "cut"
    """A 200 stream or body that ended without its end: a defect."""
    BAD_ERROR = "bad_error"
    """An error status whose body is not OpenAI's error shape: a defect."""
    TIMEOUT = "timeout"
    """No answer within the client's timeout: a defect (a hang)."""


CLEAN = {Outcome.ANSWERED, Outcome.ERROR, Outcome.STREAM_ERROR}
"""Outcomes a caller the gateway took may end in."""

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Looks a booking up.",
            "parameters": {"type": "object", "properties": {"booking": {"type": "string"}}},
        },
    }
]


@dataclass(frozen=True)
class Result:
    """One finished call."""

    request_id: str
    outcome: Outcome
    status: int | None
    """The HTTP status, when a response arrived."""
    started: float
    ended: float
    """`time.monotonic()` at the start and end of the call."""

    @property
    def kind(self) -> str:
        """The outcome with its status where one adds something (`error:503`)."""
        if self.outcome in (Outcome.ERROR, Outcome.BAD_ERROR, Outcome.STREAM_ERROR):
            return f"{self.outcome}:{self.status}"
        return str(self.outcome)

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class Tally:
    """Every call's result, in the order they ended."""

    results: list[Result] = field(default_factory=list)

    def add(self, result: Result) -> None:
        self.results.append(result)

    def kinds(self) -> Counter[str]:
        return kinds(self.results)

    def ids(self, *outcomes: Outcome) -> set[str]:
        return {r.request_id for r in self.results if r.outcome in outcomes}

    def count(self, *outcomes: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome in outcomes)


def kinds(results: list[Result]) -> Counter[str]:
    """How many results of each kind (`answered`, `error:503`, ...)."""
    return Counter(r.kind for r in results)


def chat_body(
    model: str, text: str, *, stream: bool = False, tools: bool = False, **extra: Any
) -> dict[str, Any]:
    """A chat request; with `tools` the mock (and the fake upstream) answer with a tool call."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "stream": stream,
        **extra,
    }
    if tools:
        body["tools"] = TOOLS
    return body


async def call(
    http: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    *,
    key: str,
    request_id: str,
    metadata: dict[str, str] | None = None,
) -> Result:
    """POSTs one chat completion (streamed when the body says so) and classifies the result."""
    headers = {"authorization": f"Bearer {key}", "x-request-id": request_id}
    if metadata:
        headers["x-tfy-metadata"] = json.dumps(metadata)
    started = time.monotonic()
    status: int | None = None
    try:
        async with http.stream("POST", url, json=body, headers=headers) as reply:
            status = reply.status_code
            if status != 200:
                outcome = _error_outcome(await reply.aread())
            elif body.get("stream"):
                outcome = await _stream_outcome(reply)
            else:
                outcome = _answer_outcome(await reply.aread())
    except httpx.ConnectError:
        outcome = Outcome.REFUSED
    except httpx.TimeoutException:
        outcome = Outcome.TIMEOUT
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
        outcome = Outcome.UNANSWERED if status is None else Outcome.CUT
    return Result(request_id, outcome, status, started, time.monotonic())


def is_openai_error(payload: Any) -> bool:
    """`{"error": {"message": str, "type": str, "param": ..., "code": ...}}`."""
    if not isinstance(payload, dict) or set(payload) != {"error"}:
        return False
    error = payload["error"]
    return (
        isinstance(error, dict)
        and {"message", "type", "param", "code"} <= set(error)
        and isinstance(error["message"], str)
        and isinstance(error["type"], str)
    )


def _error_outcome(content: bytes) -> Outcome:
    try:
        payload = orjson.loads(content)
    except orjson.JSONDecodeError:
        return Outcome.BAD_ERROR
    return Outcome.ERROR if is_openai_error(payload) else Outcome.BAD_ERROR


def _answer_outcome(content: bytes) -> Outcome:
    try:
        payload = orjson.loads(content)
    except orjson.JSONDecodeError:
        return Outcome.CUT
    message = payload["choices"][0]["message"] if payload.get("choices") else None
    if message and (message.get("content") or message.get("tool_calls")):
        return Outcome.ANSWERED
    return Outcome.CUT


async def _stream_outcome(reply: httpx.Response) -> Outcome:
    async for line in reply.aiter_lines():
        if line == "data: [DONE]":
            return Outcome.ANSWERED
        if line.startswith("data: {") and is_openai_error(orjson.loads(line[6:])):
            return Outcome.STREAM_ERROR
    return Outcome.CUT
