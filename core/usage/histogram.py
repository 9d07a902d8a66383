"""Latency histograms with fixed log-spaced buckets, packed into one Python int.

Bucket `i` holds values in (MIN_MS * GAMMA**(i-1), MIN_MS * GAMMA**i]; bucket 0 holds
everything up to MIN_MS and the last one everything above MAX_MS. Reporting a bucket by
`2 * upper / (GAMMA + 1)` is within RELATIVE_ERROR of every value in it (the DDSketch
bound), so a percentile read from a histogram is within 2% of the true one for latencies
between MIN_MS and MAX_MS. The buckets never change, so histograms merge exactly across
time buckets, dimension sets, stores and instances.

A histogram is one non-negative int whose bits [64*i, 64*(i+1)) count bucket `i`: merging
two histograms is one integer addition (C speed, whatever the number of buckets), which is
what makes reading thousands of rollup rows cheap, and 64-bit fields unpack with `array`.

Stores keep a histogram as `encode()` bytes (SQLite) or as a {bucket: count} map (MongoDB,
for `$inc`).
"""

from __future__ import annotations

import math
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from itertools import accumulate

RELATIVE_ERROR = 0.02
GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
MIN_MS = 0.01
MAX_MS = 4 * 3_600_000.0  # 4 hours
BUCKETS = math.ceil(math.log(MAX_MS / MIN_MS, GAMMA)) + 1
FIELD_BITS = 64
FIELD_BYTES = FIELD_BITS // 8
_LOG_GAMMA = math.log(GAMMA)
_LOG_MIN = math.log(MIN_MS)
_ONE_BY_BUCKET = tuple(1 << (FIELD_BITS * i) for i in range(BUCKETS))
_ESTIMATE = tuple(MIN_MS if i == 0 else 2 * MIN_MS * GAMMA**i / (GAMMA + 1) for i in range(BUCKETS))


def bucket_of(ms: float) -> int:
    """The bucket of a value in milliseconds."""
    if ms <= MIN_MS:
        return 0
    index = math.ceil((math.log(ms) - _LOG_MIN) / _LOG_GAMMA)
    return index if index < BUCKETS else BUCKETS - 1


def single(ms: float) -> int:
    """The histogram of one value."""
    return _ONE_BY_BUCKET[bucket_of(ms)]


def counts(histogram: int) -> array[int]:
    """Count per bucket, from bucket 0 up to the highest non-empty one."""
    size = -(-histogram.bit_length() // FIELD_BITS) * FIELD_BYTES
    fields = array("Q", histogram.to_bytes(size, "little"))
    if sys.byteorder == "big":
        fields.byteswap()
    return fields


def total(histogram: int) -> int:
    """How many values the histogram holds."""
    return sum(counts(histogram))


def percentiles(histogram: int, quantiles: Iterable[float]) -> list[float] | None:
    """The nearest-rank estimate of each quantile (0..1); None for an empty histogram."""
    if histogram == 0:
        return None
    first = _first_field(histogram)
    cumulative = list(accumulate(counts(histogram >> (FIELD_BITS * first))))
    n = cumulative[-1]
    return [_ESTIMATE[first + bisect_left(cumulative, max(1, math.ceil(q * n)))] for q in quantiles]


def _first_field(histogram: int) -> int:
    """Index of the lowest non-empty bucket of a non-empty histogram."""
    return ((histogram & -histogram).bit_length() - 1) // FIELD_BITS


def encode(histogram: int) -> bytes:
    """Compact bytes: the first non-empty bucket (2 bytes), then the fields from there."""
    if histogram == 0:
        return b""
    first = _first_field(histogram)
    shifted = histogram >> (FIELD_BITS * first)
    return first.to_bytes(2, "little") + shifted.to_bytes((shifted.bit_length() + 7) // 8, "little")


def decode(data: bytes | None) -> int:
    """The histogram of `encode()` bytes."""
    if not data:
        return 0
    first = int.from_bytes(data[:2], "little")
    return int.from_bytes(data[2:], "little") << (FIELD_BITS * first)


def to_map(histogram: int) -> dict[str, int]:
    """{bucket: count} of the non-empty buckets, keys as strings (MongoDB field names)."""
    return {str(i): c for i, c in enumerate(counts(histogram)) if c}


def from_map(buckets: Mapping[str, int] | None) -> int:
    """The histogram of a `to_map()` map."""
    if not buckets:
        return 0
    return sum(count << (FIELD_BITS * int(i)) for i, count in buckets.items())
