"""Time for metrics queries: output intervals, and the rollup rows that cover a range exactly.

Intervals are UTC: minutes, hours, days, ISO weeks (from Monday 00:00) and calendar months.
`cover` splits a range into the coarsest rollup buckets that fit wholly inside it (days in
the middle, hours and then minutes towards the edges) and the sub-minute edges that only raw
records can answer, so a query's counts are exact for any millisecond range.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from core.usage.rollup import DAY_MS, FOLDED_ALWAYS, HOUR_MS, MINUTE_MS, ceil_to, floor_to

WEEK_MS = 7 * DAY_MS
_MONDAY_OFFSET = 4 * DAY_MS  # 1970-01-05, the first Monday after the epoch
INTERVALS = ("minute", "hour", "day", "week", "month")
AUTO_POINTS = 300
"""`interval: auto` picks the finest interval that gives at most this many points."""
MAX_POINTS = 1440
"""Most time buckets a query may ask for (a day of minutes)."""


def bucket_start(ms: int, interval: str) -> int:
    """Start of the interval holding `ms`."""
    if interval == "minute":
        return floor_to(ms, MINUTE_MS)
    if interval == "hour":
        return floor_to(ms, HOUR_MS)
    if interval == "day":
        return floor_to(ms, DAY_MS)
    if interval == "week":
        return floor_to(ms - _MONDAY_OFFSET, WEEK_MS) + _MONDAY_OFFSET
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return int(datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp() * 1000)


def next_bucket(start: int, interval: str) -> int:
    """Start of the interval after the one starting at `start`."""
    widths = {"minute": MINUTE_MS, "hour": HOUR_MS, "day": DAY_MS, "week": WEEK_MS}
    if interval in widths:
        return start + widths[interval]
    moment = datetime.fromtimestamp(start / 1000, UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp() * 1000)


def buckets(start: int, end: int, interval: str) -> Iterator[tuple[int, int, int]]:
    """(bucket start, range start, range end) of each interval overlapping [start, end)."""
    first = bucket_start(start, interval)
    while first < end:
        following = next_bucket(first, interval)
        yield first, max(first, start), min(following, end)
        first = following


def points(start: int, end: int, interval: str) -> int:
    """How many intervals overlap [start, end), counting no further than MAX_POINTS + 1."""
    count = 0
    for _ in buckets(start, end, interval):
        count += 1
        if count > MAX_POINTS:
            break
    return count


def auto_interval(start: int, end: int) -> str:
    """The finest interval giving at most AUTO_POINTS points (months beyond that)."""
    for interval in INTERVALS:
        if points(start, end, interval) <= AUTO_POINTS:
            return interval
    return "month"


@dataclass(frozen=True, slots=True)
class Piece:
    """Rollup rows of `span` whose bucket starts in [low, high)."""

    span: int
    low: int
    high: int


def cover(
    start: int, end: int, folded_until: int = FOLDED_ALWAYS
) -> tuple[list[Piece], list[tuple[int, int]]]:
    """Rollup pieces and raw [start, end) ranges that together cover [start, end) once;
    hour and day pieces only before `folded_until` (Store.rollups_folded_until)."""
    low, high = ceil_to(start, MINUTE_MS), floor_to(end, MINUTE_MS)
    if low >= high:
        return [], [(start, end)] if start < end else []
    raw = [r for r in ((start, low), (high, end)) if r[0] < r[1]]
    folded = min(max(low, floor_to(folded_until, MINUTE_MS)), high)
    pieces = _coarse(low, folded) if low < folded else []
    if folded < high:
        pieces.append(Piece(MINUTE_MS, folded, high))
    return pieces, raw


def _coarse(low: int, high: int, spans: tuple[int, ...] = (DAY_MS, HOUR_MS)) -> list[Piece]:
    """Minute-aligned [low, high) in the coarsest pieces: those of the first of `spans` that
    fits, the head and tail left by it in the next ones, minutes last."""
    for i, span in enumerate(spans):
        inner_low, inner_high = ceil_to(low, span), floor_to(high, span)
        if inner_low < inner_high:
            pieces = [Piece(span, inner_low, inner_high)]
            for a, b in ((low, inner_low), (inner_high, high)):
                if a < b:
                    pieces.extend(_coarse(a, b, spans[i + 1 :]))
            return pieces
    return [Piece(MINUTE_MS, low, high)]


def merged(pieces: list[Piece]) -> list[Piece]:
    """The same rows in fewer reads: touching pieces of one span joined."""
    out: list[Piece] = []
    for piece in sorted(pieces, key=lambda p: (p.span, p.low)):
        last = out[-1] if out else None
        if last is not None and last.span == piece.span and last.high == piece.low:
            out[-1] = Piece(piece.span, last.low, piece.high)
        else:
            out.append(piece)
    return out
