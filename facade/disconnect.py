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
    """The result of `work`, or None (with `work` cancelled) if the caller hung up first.

    `work` runs in this task, not one of its own (a task per request is measurable at
    these rates); a watcher task cancels this one when the disconnect comes.
    """
    task = asyncio.current_task()
    if task is None:  # pragma: no cover - always called from a request's task
        return await work
    hung_up = finished = False

    def on_disconnect(watcher: asyncio.Future[None]) -> None:
        nonlocal hung_up
        # Scheduled callbacks still run after `finished`: then the answer is already out.
        if not finished and not watcher.cancelled() and watcher.exception() is None:
            hung_up = True
            task.cancel()

    watcher = asyncio.ensure_future(_disconnect(request))
    watcher.add_done_callback(on_disconnect)
    try:
        return await work  # cancelling it cancels the call in core, and its upstream request
    except asyncio.CancelledError:
        if hung_up and task.uncancel() == 0:
            return None  # our own cancellation; anyone else's goes on
        raise
    finally:
        finished = True
        watcher.cancel()


async def _disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
