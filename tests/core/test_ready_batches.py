"""`ready_batches`: what was ready together comes together, in order, errors after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from core.servicers.ready_batches import MAX_BATCH, ready_batches


async def burst_then_trickle(gate: asyncio.Event, closed: list[bool]) -> AsyncIterator[int]:
    try:
        for item in range(5):  # ready at once, as chunks of one network read are
            yield item
        await gate.wait()
        yield 5
    finally:
        closed.append(True)


async def test_items_ready_together_come_in_one_batch_in_order() -> None:
    gate, closed = asyncio.Event(), []
    batches = ready_batches(burst_then_trickle(gate, closed))
    first = await anext(batches)
    gate.set()
    rest = [batch async for batch in batches]
    assert first == [0, 1, 2, 3, 4]
    assert rest == [[5]]
    assert closed == [True]


async def failing() -> AsyncIterator[int]:
    yield 1
    yield 2
    raise RuntimeError("upstream broke")


async def collect(batches: AsyncIterator[list[int]], seen: list[int]) -> None:
    async for batch in batches:
        seen.extend(batch)


async def test_an_error_comes_after_the_items_before_it() -> None:
    seen: list[int] = []
    with pytest.raises(RuntimeError, match="upstream broke"):
        await collect(ready_batches(failing()), seen)
    assert seen == [1, 2]


async def endless(pulled: list[int]) -> AsyncIterator[int]:
    item = 0
    while True:
        pulled.append(item)
        yield item
        item += 1


async def test_a_slow_reader_bounds_how_far_the_source_runs_ahead() -> None:
    pulled: list[int] = []
    batches = ready_batches(endless(pulled))
    first = await anext(batches)
    assert len(first) == MAX_BATCH
    # The reader has not asked again: the puller waits for room instead of running on.
    for _ in range(10):
        await asyncio.sleep(0)
    assert len(pulled) <= 2 * MAX_BATCH + 1
    await batches.aclose()


async def test_closing_early_stops_the_source() -> None:
    gate, closed = asyncio.Event(), []
    batches = ready_batches(burst_then_trickle(gate, closed))
    await anext(batches)
    await batches.aclose()
    assert closed == [True]
