"""Retention deletes old records in bounded batches and keeps the rest."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

from core.logs import Retention
from core.store.base import Store, StoredResponseRecord
from core.store.sqlite import SqliteStore
from core.usage.rollup import DAY_MS
from tests.logs.conftest import all_records
from tests.logs.stores import record

NOW = 1_800_000_000_000


class CountingDeletes:
    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.calls: list[tuple[int, int, int]] = []
        self.called = asyncio.Event()

    async def delete_logs_before(self, created_before: int, *, batch_size: int) -> int:
        deleted = await self.inner.delete_logs_before(created_before, batch_size=batch_size)
        self.calls.append((created_before, batch_size, deleted))
        self.called.set()
        return deleted

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def _fill(store: SqliteStore, ages_days: Sequence[float]) -> None:
    await store.insert_logs(
        [record(i, created_at=NOW - int(age * DAY_MS)) for i, age in enumerate(ages_days)]
    )


async def test_old_records_are_deleted_in_bounded_batches(sqlite_store: SqliteStore) -> None:
    await _fill(sqlite_store, [40] * 25 + [31] * 3 + [29] * 4 + [1] * 2)
    counting = CountingDeletes(sqlite_store)
    retention = Retention(cast(Store, counting), max_age_days=30, batch_size=10, now_ms=lambda: NOW)
    assert await retention.run_once() == 28
    cutoff = NOW - 30 * DAY_MS - (NOW - 30 * DAY_MS) % DAY_MS  # a UTC day boundary
    assert counting.calls == [(cutoff, 10, 10), (cutoff, 10, 10), (cutoff, 10, 8)]
    assert len(await all_records(sqlite_store)) == 6
    assert await retention.run_once() == 0


async def test_background_task_runs_at_start_and_stops(sqlite_store: SqliteStore) -> None:
    await _fill(sqlite_store, [10, 10, 0.5])
    counting = CountingDeletes(sqlite_store)
    retention = Retention(cast(Store, counting), max_age_days=1, interval=3600, now_ms=lambda: NOW)
    retention.start()
    await counting.called.wait()  # the first round starts at once
    await retention.stop()
    assert len(await all_records(sqlite_store)) == 1


async def test_old_stored_responses_go_with_old_records(sqlite_store: SqliteStore) -> None:
    for i, age in enumerate([40, 40, 31, 29, 1]):
        await sqlite_store.insert_response(
            StoredResponseRecord(f"resp_{i}", "k1", NOW - int(age * DAY_MS), b"{}")
        )
    retention = Retention(sqlite_store, max_age_days=30, batch_size=2, now_ms=lambda: NOW)
    await retention.run_once()
    kept = [i for i in range(5) if await sqlite_store.get_response(f"resp_{i}") is not None]
    assert kept == [3, 4]
