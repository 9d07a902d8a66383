"""Several upstream calls for one request (embedding batches), a few at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


async def gather_bounded(calls: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Each call's result, in order, with at most `limit` running at once. The first
    failure is raised as it is (not in an ExceptionGroup, so callers see the upstream's
    error) and cancels the calls still running: their answers could not be used."""
    semaphore = asyncio.Semaphore(limit)

    async def bounded(call: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await call()

    tasks = [asyncio.ensure_future(bounded(call)) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()  # a no-op for those done
