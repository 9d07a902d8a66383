"""Server-sent events framed exactly as OpenAI frames them: `data: <json>\\n\\n`, then `[DONE]`."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any

import orjson
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

__all__ = ["DONE", "EventStreamResponse", "event"]

DONE = b"data: [DONE]\n\n"


def event(payload: Any) -> bytes:
    """One SSE event holding `payload` as compact JSON."""
    return b"data: " + orjson.dumps(payload) + b"\n\n"


class EventStreamResponse(StreamingResponse):
    """A `text/event-stream` response that always runs `on_close` when it ends.

    Starlette cancels the body iterator when the client disconnects, but a generator that is
    suspended at a `yield` is then left for the garbage collector; `on_close` (cancelling the
    gRPC call) and closing the iterator here make the clean-up prompt on every path.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        content: AsyncGenerator[bytes, None],
        *,
        headers: Mapping[str, str],
        on_close: Callable[[], object],
    ) -> None:
        super().__init__(content, headers=headers)
        self._content = content
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_close()
            await self._content.aclose()
