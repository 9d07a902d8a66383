"""`Pipe`: a bounded single-producer, single-consumer hand-off of streamed answers."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Pipe(Generic[T]):
    """Like a bounded `asyncio.Queue` with `close()`, for one writer and one reader.

    The bound is gRPC's flow control in miniature: a servicer streaming to a slow caller
    waits instead of piling answers up in memory.
    """

    def __init__(self, limit: int) -> None:
        self._items: deque[T] = deque()
        self._limit = limit
        self._closed = False
        self._reader: asyncio.Future[None] | None = None
        self._writer: asyncio.Future[None] | None = None

    async def put(self, item: T) -> None:
        while len(self._items) >= self._limit:
            self._writer = asyncio.get_running_loop().create_future()
            try:
                await self._writer
            finally:
                self._writer = None
        self._items.append(item)
        _wake(self._reader)

    def close(self) -> None:
        """No more items: the reader gets None once it has read what is left."""
        self._closed = True
        _wake(self._reader)

    async def get(self) -> T | None:
        while not self._items:
            if self._closed:
                return None
            self._reader = asyncio.get_running_loop().create_future()
            try:
                await self._reader
            finally:
                self._reader = None
        item = self._items.popleft()
        _wake(self._writer)
        return item


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
