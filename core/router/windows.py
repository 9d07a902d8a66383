"""Where a charge lands in time: sliding windows for rate limits, calendar periods for budgets.

Sliding window (rate limits): a window of length W is counted in `SLOTS` sub-buckets of
W/SLOTS. A request at time t is admitted when the sub-buckets overlapping [t - W, t], counted
whole, leave room. Any interval of length W that ends at an admission lies inside what that
admission counted, so no interval of length W ever holds more than `limit_to`: no burst at a
window edge. The price is under-admission: up to one sub-bucket (W/SLOTS) of older traffic is
still counted, so a steady stream gets at least SLOTS/(SLOTS+1) of the limit (98.4%).

Calendar periods (budgets): one slot per UTC day, ISO week (from Monday) or month; spend
resets when the period turns, as a budget owner reads "per month".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

SLOTS = 60
"""Sub-buckets per sliding window."""
MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

Period = Literal["day", "week", "month"]


Placement = tuple[int, int, int]
"""(the slot to charge, the first slot the window counts, when the slot may be forgotten):
a plain tuple, as it is made for every matching rule of every call."""


@dataclass(frozen=True, slots=True)
class SlidingWindow:
    """A window of `length_ms` counted in SLOTS sub-buckets."""

    length_ms: int

    @property
    def slot_ms(self) -> int:
        return self.length_ms // SLOTS

    def place(self, now_ms: int) -> Placement:
        slot_ms = self.length_ms // SLOTS
        slot = now_ms // slot_ms
        return slot, slot - SLOTS, (slot + SLOTS + 2) * slot_ms

    def free_at_ms(self, oldest_slot: int) -> int:
        """When the sub-bucket `oldest_slot` stops being counted."""
        return (oldest_slot + SLOTS + 1) * self.slot_ms

    @property
    def seconds(self) -> float:
        return self.length_ms / 1000


@dataclass(frozen=True, slots=True)
class CalendarPeriod:
    """One UTC day, ISO week or month; the slot is the period's start (epoch ms)."""

    period: Period
    _current: list[int] = field(default_factory=lambda: [0, 0], compare=False, repr=False)
    """[start, end) of the period last placed in: calendar arithmetic once per period."""

    def place(self, now_ms: int) -> Placement:
        current = self._current
        if not current[0] <= now_ms < current[1]:
            current[0], current[1] = self.bounds(now_ms)
        start = current[0]
        return start, start, current[1] + DAY_MS

    def free_at_ms(self, oldest_slot: int) -> int:
        return self.bounds(oldest_slot)[1]

    def bounds(self, now_ms: int) -> tuple[int, int]:
        """[start, end) of the period holding `now_ms`, in epoch ms."""
        day = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC).date()
        if self.period == "day":
            first, last = day, day + dt.timedelta(days=1)
        elif self.period == "week":
            first = day - dt.timedelta(days=day.weekday())
            last = first + dt.timedelta(days=7)
        else:
            first = day.replace(day=1)
            last = (first + dt.timedelta(days=32)).replace(day=1)
        return _ms(first), _ms(last)


def _ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


Window = SlidingWindow | CalendarPeriod
