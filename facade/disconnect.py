"""Stop a non-streaming call when its HTTP caller hangs up.

A server sends a streamed answer chunk by chunk and notices a gone client on the next write;
a one-shot answer is written only at the end, so without this the call (and the provider's
generation, which is billed) would run to completion for nobody. Once the body is read, the
next ASGI message can only be `http.disconnect`: waiting for it costs no polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request

T = TypeVar("T")

CLIENT_CLOSED = 499
"""The status logged for a caller that left (nginx's convention); nobody receives it."""


async def until_disconnected(request: Request, work: Awaitable[T]) -> T | None:
    """The result of `work`, or None (with `work` cancelled) if the caller hung up first."""
    call = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnect(request))
    try:
        await asyncio.wait((call, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not call.done() and not watcher.done():  # we were cancelled ourselves
            call.cancel()
        watcher.cancel()
    if call.done():
        return call.result()
    call.cancel()  # cancelling the gRPC call cancels it in core, and core's upstream request
    await asyncio.gather(call, return_exceptions=True)
    return None


async def _disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
