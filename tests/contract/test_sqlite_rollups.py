"""SQLite folds minute rollups into hours and days as hours end; late records still count once.

A clock the test moves drives the folds. Whatever arrives when (in time, late for a folded
hour, replayed), every query answers what the records say.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from core.store.sqlite import SqliteStore
from core.usage.rollup import DAY_MS, HOUR_MS, MINUTE_MS
from tests.contract.conftest import ROLLUPS
from tests.contract.test_metrics import RECORDS, _answer, _engine, _oracle, _query

T0 = 1_712_358_000_000 + 5 * MINUTE_MS  # 2024-04-05 23:05 UTC
# The records, moved to start at T0 (an hour before midnight) and last 4 hours.
LIVE = [replace(r, created_at=T0 + i * 5 * MINUTE_MS + i * 7_001) for i, r in enumerate(RECORDS)]


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


async def _read(store: SqliteStore, method: str, *args: Any) -> Any:
    """One metrics read, in a snapshot of its own."""
    async with store.metrics_snapshot() as view:
        return await getattr(view, method)(*args)


async def test_hours_fold_as_they_end_and_late_records_still_count(tmp_path: Path) -> None:
    clock = Clock(T0)
    store = SqliteStore(tmp_path / "gateway.db", rollups=ROLLUPS, now_ms=clock)
    await store.open()
    try:
        assert (
            await _read(store, "rollups_folded_until") == T0 - 5 * MINUTE_MS
        )  # this hour, unfolded
        for record in LIVE[:40]:  # in time, one by one, the clock following
            clock.now = record.created_at + 1_000
            await store.insert_logs([record])
        mark = await _read(store, "rollups_folded_until")
        assert mark == T0 - 5 * MINUTE_MS + 3 * HOUR_MS  # three hours are over and folded
        hours = await _read(store, "read_rollups", "route", HOUR_MS, T0 - DAY_MS, mark)
        assert {row.start for row in hours} == {mark - 3 * HOUR_MS + h * HOUR_MS for h in range(3)}
        # Late: records of folded hours (a replayed journal), one of them again.
        await store.insert_logs([LIVE[3], LIVE[40], LIVE[41]])
        await store.insert_logs(LIVE[42:])  # and the rest, in time
        everything = _query(start=T0 - HOUR_MS, end=T0 + DAY_MS, group_by=("model",))
        for query in (
            everything,
            replace(everything, interval="hour"),
            replace(everything, interval="day", group_by=("metadata.customer_id",)),
            replace(everything, start=T0 + 37 * MINUTE_MS + 5, end=T0 + 3 * HOUR_MS + 1),
        ):
            expected = _oracle(query, LIVE)
            assert _answer(await _engine(store).run(query)) == expected
        # Day rows hold the folded hours: the last one before midnight, two after it.
        days = await _read(store, "read_rollups", "caller", DAY_MS, T0 - DAY_MS, T0 + DAY_MS)
        assert {row.start for row in days} == {
            T0 - 5 * MINUTE_MS - 23 * HOUR_MS,
            mark - 2 * HOUR_MS,
        }
        assert sum(row.totals.requests for row in days) == sum(
            1 for r in LIVE if r.created_at < mark
        )
    finally:
        await store.close()


async def test_a_store_reopened_later_folds_what_is_due(tmp_path: Path) -> None:
    clock = Clock(T0)
    first = SqliteStore(tmp_path / "gateway.db", rollups=ROLLUPS, now_ms=clock)
    await first.open()
    await first.insert_logs(LIVE)
    await first.close()
    clock.now = T0 + 2 * DAY_MS  # closed for two days
    again = SqliteStore(tmp_path / "gateway.db", rollups=ROLLUPS, now_ms=clock)
    await again.open()
    try:
        mark = await _read(again, "rollups_folded_until")
        assert mark == T0 - 5 * MINUTE_MS + 24 * HOUR_MS  # MAX_FOLD_HOURS in one go
        query = _query(start=T0 - HOUR_MS, end=T0 + DAY_MS, group_by=("user",), interval="hour")
        assert _answer(await _engine(again).run(query)) == _oracle(query, LIVE)
    finally:
        await again.close()
