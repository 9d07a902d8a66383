"""`until_disconnected`: the caller hanging up cancels the work, and nothing else does."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from starlette.requests import Request

from facade.disconnect import until_disconnected


class Caller:
    """An ASGI request whose `http.disconnect` comes when the test says."""

    def __init__(self) -> None:
        self.gone = asyncio.Event()
        self.told = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()
        self.told.set()
        return {"type": "http.disconnect"}

    def request(self) -> Request:
        return cast(Request, self)


async def test_a_hang_up_cancels_the_work_and_answers_none() -> None:
    caller, started, cancelled = Caller(), asyncio.Event(), asyncio.Event()

    async def work() -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    waiting = asyncio.ensure_future(until_disconnected(caller.request(), work()))
    await started.wait()
    caller.gone.set()
    assert await waiting is None
    assert cancelled.is_set()


async def test_a_hang_up_with_the_answer_cancels_nothing_after_it() -> None:
    caller, started, release = Caller(), asyncio.Event(), asyncio.Event()

    async def work() -> str:
        started.set()
        await release.wait()
        return "answer"

    async def handler() -> str:
        answer = await until_disconnected(caller.request(), work())
        # What the handler awaits next (sending the answer) must not be cancelled.
        for _ in range(3):
            await asyncio.sleep(0)
        return cast(str, answer)

    handling = asyncio.ensure_future(handler())
    await started.wait()
    caller.gone.set()  # the hang-up and the answer in the same loop iteration
    release.set()
    assert await handling == "answer"


async def test_someone_elses_cancellation_goes_on() -> None:
    caller, started = Caller(), asyncio.Event()

    async def work() -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    waiting = asyncio.ensure_future(until_disconnected(caller.request(), work()))
    await started.wait()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
