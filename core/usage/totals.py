"""Totals: the additive figures of a group of calls (counts, tokens, cost, latency histograms).

Everything is an integer, so sums are exact and do not depend on the order of addition:
the same calls give the same totals whether they come from rollups or raw records, from
SQLite or MongoDB, merged in any order. Cost is kept in nano-dollars (1e-9 USD): each call's
cost is rounded to that once, and sums of a billion dollars still fit a 64-bit store field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.usage.histogram import EMPTY, Hist, merge, single, subtract

if TYPE_CHECKING:  # core.store.base refers to Totals
    from core.store.base import LogRecord

NANO = 1_000_000_000


def cost_nano(cost: float) -> int:
    """US dollars as integer nano-dollars."""
    return round(cost * NANO)


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

    @property
    def cost(self) -> float:
        """US dollars."""
        return self.cost_nano / NANO


def of_record(record: LogRecord) -> Totals:
    """The totals of one call."""
    upstream = record.upstream_ms
    return Totals(
        requests=1,
        errors=int(record.status != "success"),
        input_tokens=record.input_tokens,
        output_tokens=record.output_tokens,
        total_tokens=record.total_tokens,
        cost_nano=cost_nano(record.cost),
        latency=single(record.latency_ms),
        ttft=EMPTY if record.ttft_ms is None else single(record.ttft_ms),
        overhead=EMPTY if upstream is None else single(max(record.latency_ms - upstream, 0.0)),
    )
