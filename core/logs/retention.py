"""Deletes log records, and stored Responses API responses, older than the configured age,
in bounded batches, in the background.

The cutoff is rounded down to a UTC day: the store then deletes metrics rollups up to the
same instant (whole minute, hour and day rows only), so records and rollups always cover the
same period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from core.store.base import Store
from core.usage.rollup import DAY_MS, floor_to

log = logging.getLogger(__name__)


class Retention:
    """Runs `delete_logs_before` in batches now and then every `interval` seconds."""

    def __init__(
        self,
        store: Store,
        *,
        max_age_days: float,
        interval: float = 3600.0,
        batch_size: int = 1000,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._store = store
        self._max_age_ms = int(max_age_days * DAY_MS)
        self._interval = interval
        self._batch_size = batch_size
        self._now_ms = now_ms
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        """Deletes every record older than the max age, one bounded batch at a time."""
        cutoff = self._now_ms() - self._max_age_ms
        cutoff = floor_to(cutoff, DAY_MS)
        total = 0
        while True:
            deleted = await self._store.delete_logs_before(cutoff, batch_size=self._batch_size)
            total += deleted
            if deleted < self._batch_size:
                break
        if total:
            log.info("retention: deleted %d log records older than %d ms", total, cutoff)
        responses = 0
        while True:
            deleted = await self._store.delete_responses_before(cutoff, batch_size=self._batch_size)
            responses += deleted
            if deleted < self._batch_size:
                break
        if responses:
            log.info("retention: deleted %d stored responses older than %d ms", responses, cutoff)
        return total

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="log-retention")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()  # a long delete round need not finish: the next start resumes it
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.run_once()
            except Exception:  # the store may be down; the next round tries again
                log.exception("retention: deleting old log records failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._stop.wait()
