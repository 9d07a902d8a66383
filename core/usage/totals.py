"""Totals: the additive figures of a group of calls (counts, tokens, cost, latency histograms).

Everything is an integer, so sums are exact and do not depend on the order of addition:
the same calls give the same totals whether they come from rollups or raw records, from
SQLite or MongoDB, merged in any order. Cost is kept in nano-dollars (1e-9 USD): each call's
cost is rounded to that once, and sums of a billion dollars still fit a 64-bit store field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.pricing import NANO_DOLLARS
from core.usage.histogram import EMPTY, Hist, merge, single, subtract, total

if TYPE_CHECKING:  # core.store.base refers to Totals
    from core.store.base import LogRecord

NANO = NANO_DOLLARS
MAX_COST = 10_000.0
"""US dollars one call may count for, at most: a wrong price or a bogus logged cost must
not overflow the stores' 64-bit sums (a billion such calls still fit)."""
MAX_TOKENS = 10**9
"""Tokens of one kind one call may count for, at most (for the same reason)."""


def cost_nano(cost: float) -> int:
    """US dollars as integer nano-dollars, within [0, MAX_COST]."""
    return round(min(max(cost, 0.0), MAX_COST) * NANO) if cost == cost else 0


def tokens(count: int) -> int:
    """A call's token count, within [0, MAX_TOKENS]."""
    return min(max(count, 0), MAX_TOKENS)


@dataclass(slots=True)
class Totals:
    """Mutable sums; `add` merges another group into this one."""

    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cost_nano: int = 0
    latency: Hist = EMPTY
    """Histogram (core/usage/histogram.py) of the whole call's latency."""
    ttft: Hist = EMPTY
    """Histogram of the time to first token (streams that produced one)."""
    overhead: Hist = EMPTY
    """Histogram of the gateway's own time: latency less the time spent upstream."""

    def add(self, other: Totals) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.total_tokens += other.total_tokens
        self.cost_nano += other.cost_nano
        self.latency = merge(self.latency, other.latency)
        self.ttft = merge(self.ttft, other.ttft)
        self.overhead = merge(self.overhead, other.overhead)

    def subtract(self, other: Totals) -> None:
        """Takes away a group that was added in (exact: everything is an integer)."""
        self.requests -= other.requests
        self.errors -= other.errors
        self.input_tokens -= other.input_tokens
        self.output_tokens -= other.output_tokens
        self.total_tokens -= other.total_tokens
        self.cost_nano -= other.cost_nano
        self.latency = subtract(self.latency, other.latency)
        self.ttft = subtract(self.ttft, other.ttft)
        self.overhead = subtract(self.overhead, other.overhead)

    def consistent(self) -> bool:
        """Whether nothing went below zero (a subtraction of what was not added would)."""
        counts = (
            self.requests,
            self.errors,
            self.input_tokens,
            self.output_tokens,
            self.total_tokens,
            self.cost_nano,
        )
        if min(counts) < 0 or min(h[1] for h in (self.latency, self.ttft, self.overhead)) < 0:
            return False
        # Every call has a latency: a histogram that borrowed across buckets would not add up.
        return not self.latency[1] or total(self.latency) == self.requests

    def clamped(self) -> Totals:
        """The counts floored at zero, without histograms (they cannot be trusted)."""
        return Totals(
            max(self.requests, 0),
            max(self.errors, 0),
            max(self.input_tokens, 0),
            max(self.output_tokens, 0),
            max(self.total_tokens, 0),
            max(self.cost_nano, 0),
        )

    @property
    def cost(self) -> float:
        """US dollars."""
        return self.cost_nano / NANO


def of_record(record: LogRecord, *, histograms: bool = True) -> Totals:
    """The totals of one call (without `histograms`, its latencies are left out)."""
    totals = Totals(
        requests=1,
        errors=int(record.status != "success"),
        input_tokens=tokens(record.input_tokens),
        output_tokens=tokens(record.output_tokens),
        total_tokens=tokens(record.total_tokens),
        cost_nano=cost_nano(record.cost),
    )
    if histograms:
        overhead = record.overhead_ms
        totals.latency = single(record.latency_ms)
        totals.ttft = EMPTY if record.ttft_ms is None else single(record.ttft_ms)
        totals.overhead = EMPTY if overhead is None else single(overhead)
    return totals
