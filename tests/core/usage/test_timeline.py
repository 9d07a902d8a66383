"""core/usage/timeline.py: covers are exact partitions; intervals are UTC calendar units."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, strategies as st

from core.usage.rollup import DAY_MS, HOUR_MS, MINUTE_MS
from core.usage.timeline import auto_interval, bucket_start, buckets, cover, next_bucket, points

EPOCH_2024 = 1_704_067_200_000
MOMENTS = st.integers(min_value=EPOCH_2024 - 40 * DAY_MS, max_value=EPOCH_2024 + 40 * DAY_MS)


@given(MOMENTS, st.integers(min_value=0, max_value=20 * DAY_MS), MOMENTS)
def test_a_cover_holds_every_millisecond_once(start: int, length: int, folded: int) -> None:
    end = start + length
    pieces, raw = cover(start, end, folded)
    spans = [(p.low, p.high) for p in pieces] + raw
    covered = sorted(spans)
    position = start
    for low, high in covered:
        assert low == position
        position = high
    assert position == max(start, end)
    for piece in pieces:
        assert piece.low % piece.span == 0
        assert piece.high % piece.span == 0
        if piece.span > MINUTE_MS:  # hours and days only where they are folded
            assert piece.high <= folded
    # Raw only at the edges: less than a minute each, or less than two in all.
    assert sum(high - low for low, high in raw) < 2 * MINUTE_MS


def test_a_week_is_read_from_days_hours_and_minutes() -> None:
    start = EPOCH_2024 + 5 * HOUR_MS + 17 * MINUTE_MS + 5
    pieces, raw = cover(start, start + 7 * DAY_MS, folded_until=2**62)
    assert {p.span for p in pieces} == {DAY_MS, HOUR_MS, MINUTE_MS}
    assert sum(1 for p in pieces if p.span == DAY_MS) == 1  # one run of whole days
    assert raw == [(start, start + MINUTE_MS - 5), (start + 7 * DAY_MS - 5, start + 7 * DAY_MS)]


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    wednesday = int(datetime(2024, 1, 3, 15, tzinfo=UTC).timestamp() * 1000)
    monday = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
    assert bucket_start(wednesday, "week") == monday
    december = int(datetime(2023, 12, 31, 23, tzinfo=UTC).timestamp() * 1000)
    assert bucket_start(december, "month") == int(
        datetime(2023, 12, 1, tzinfo=UTC).timestamp() * 1000
    )
    assert next_bucket(bucket_start(december, "month"), "month") == monday
    assert [b for b, _, _ in buckets(december, wednesday, "day")] == [
        bucket_start(december, "day") + i * DAY_MS for i in range(4)
    ]


def test_auto_picks_at_most_300_points() -> None:
    assert auto_interval(EPOCH_2024, EPOCH_2024 + 3 * HOUR_MS) == "minute"
    assert auto_interval(EPOCH_2024, EPOCH_2024 + 7 * DAY_MS) == "hour"
    assert auto_interval(EPOCH_2024, EPOCH_2024 + 90 * DAY_MS) == "day"
    assert auto_interval(EPOCH_2024, EPOCH_2024 + 3 * 365 * DAY_MS) == "week"
    assert points(EPOCH_2024, EPOCH_2024 + 30 * DAY_MS, "minute") == 1441  # counted up to the cap
