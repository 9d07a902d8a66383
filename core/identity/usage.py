"""Last use of API keys: noted in memory per request, written to the store off the request path.

A key's `last_used_at` is written at most once per `min_interval_seconds` (plus once at stop),
by a background task started and stopped with the core.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from core.identity.clock import Clock, epoch_ms, system_clock
from core.store.base import Store

log = logging.getLogger(__name__)


class LastUsed:
    """Buffers `key id -> last use (epoch ms)` and flushes it with `Store.touch_keys`."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock = system_clock,
        min_interval_seconds: float = 60.0,
        flush_every_seconds: float = 10.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._min_interval_ms = int(min_interval_seconds * 1000)
        self._flush_every = flush_every_seconds
        self._pending: dict[str, int] = {}
        self._written: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    def note(self, key_id: str, used_at: int) -> None:
        """Remembers a use; no I/O."""
        self._pending[key_id] = used_at

    async def flush(self, *, everything: bool = False) -> int:
        """Writes the uses of keys not written within the interval (all if `everything`)."""
        now = epoch_ms(self._clock)
        due = {
            key_id: used_at
            for key_id, used_at in self._pending.items()
            if everything
            or key_id not in self._written
            or now - self._written[key_id] >= self._min_interval_ms
        }
        if not due:
            return 0
        for key_id in due:
            del self._pending[key_id]
        try:
            await self._store.touch_keys(due)
        except Exception:
            log.warning("could not record the last use of %d API keys; will retry", len(due))
            for key_id, used_at in due.items():
                self._pending.setdefault(key_id, used_at)
            return 0
        for key_id in due:
            self._written[key_id] = now
        return len(due)

    def start(self) -> None:
        """Starts the background writer (inside the running loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="api-key-last-used")

    async def stop(self) -> None:
        """Stops the writer and writes what is still buffered."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush(everything=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_every)
            await self.flush()
