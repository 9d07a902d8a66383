"""`ready_batches`: an async iterator's items, in lists of those that were ready together.

Over a real gRPC connection each message costs far more than its bytes (~100 µs of CPU on
each side). A provider's stream often delivers several chunks in one network read; pulling
them in a task of their own while the previous message is being written lets the servicer
send them as one message. Nothing waits to fill a batch: a lone chunk goes out alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TypeVar

T = TypeVar("T")

MAX_BATCH = 64
"""Items pulled ahead of the writer: a slow caller holds the provider back beyond this."""


async def ready_batches(items: AsyncIterator[T]) -> AsyncGenerator[list[T], None]:
    """Yields non-empty lists of `items` in order; an error of `items` follows its batch."""
    pending: list[T] = []
    changed = asyncio.Event()
    room = asyncio.Event()
    room.set()
    finished: list[BaseException | None] = []

    async def pull() -> None:
        try:
            async for item in items:
                pending.append(item)
                changed.set()
                if len(pending) >= MAX_BATCH:
                    room.clear()
                    await room.wait()
        except Exception as error:  # handed to the reader, after what came before it
            finished.append(error)
        else:
            finished.append(None)
        finally:
            changed.set()

    puller = asyncio.create_task(pull())
    try:
        while True:
            await changed.wait()
            changed.clear()
            if pending:
                batch = pending[:]
                pending.clear()
                room.set()
                yield batch
            if finished and not pending:
                if finished[0] is not None:
                    raise finished[0]
                return
    finally:
        puller.cancel()
        await asyncio.gather(puller, return_exceptions=True)
