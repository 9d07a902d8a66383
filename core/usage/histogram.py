"""Latency histograms with fixed log-spaced buckets, packed into a Python int.

Bucket `i` holds values in (MIN_MS * GAMMA**(i-1), MIN_MS * GAMMA**i]; bucket 0 holds
everything up to MIN_MS and the last one everything above MAX_MS. Reporting a bucket by
`2 * upper / (GAMMA + 1)` is within RELATIVE_ERROR of every value in it (the DDSketch
bound), so a percentile read from a histogram is within 2% of the true one for latencies
between MIN_MS and MAX_MS. The buckets never change, so histograms merge exactly across
time buckets, dimension sets, stores and instances.

A histogram is a `Hist`, (first, fields): `fields` is an int whose bits [64*k, 64*(k+1))
count bucket `first + k`. Merging is a shift and one integer addition, C speed whatever the
number of buckets, and the int only spans the buckets in use (a few hundred bytes, not the
4 KiB of every bucket), which is what makes reading thousands of rollup rows cheap. 64-bit
fields unpack with `array`. `EMPTY` holds nothing.

Stores keep a histogram as `encode()` bytes (SQLite) or as a {bucket: count} map (MongoDB,
for `$inc`).
"""

from __future__ import annotations

import math
import sys
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
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
_ESTIMATE = tuple(MIN_MS if i == 0 else 2 * MIN_MS * GAMMA**i / (GAMMA + 1) for i in range(BUCKETS))

Hist = tuple[int, int]
"""(first bucket, fields from there): see the module docstring."""
EMPTY: Hist = (0, 0)


def bucket_of(ms: float) -> int:
    """The bucket of a value in milliseconds."""
    if ms <= MIN_MS:
        return 0
    index = math.ceil((math.log(ms) - _LOG_MIN) / _LOG_GAMMA)
    return index if index < BUCKETS else BUCKETS - 1


def single(ms: float) -> Hist:
    """The histogram of one value."""
    return (bucket_of(ms), 1)


def of_buckets(buckets: Sequence[int]) -> Hist:
    """The histogram of values given by their buckets."""
    if len(buckets) <= 1:
        return (buckets[0], 1) if buckets else EMPTY
    first = min(buckets)
    if len(buckets) <= 16:
        small = 0
        for bucket in buckets:
            small += 1 << ((bucket - first) << 6)  # FIELD_BITS == 64
        return first, small
    counted = Counter(buckets)  # counted in C; then one int built from the fields' bytes
    fields = array("Q", bytes(FIELD_BYTES * (max(counted) - first + 1)))
    for bucket, count in counted.items():
        fields[bucket - first] = count
    if sys.byteorder == "big":
        fields.byteswap()
    return first, int.from_bytes(fields.tobytes(), "little")


def merge(a: Hist, b: Hist) -> Hist:
    """Both histograms' values together."""
    first_a, fields_a = a
    first_b, fields_b = b
    if not fields_b:
        return a
    if not fields_a:
        return b
    if first_a <= first_b:
        return first_a, fields_a + (fields_b << (FIELD_BITS * (first_b - first_a)))
    return first_b, fields_b + (fields_a << (FIELD_BITS * (first_a - first_b)))


def merge_all(histograms: Iterable[Hist]) -> Hist:
    """All the histograms' values together."""
    out = EMPTY
    for histogram in histograms:
        out = merge(out, histogram)
    return out


def counts(histogram: Hist) -> array[int]:
    """Count per bucket from the histogram's first bucket up to its last non-empty one."""
    fields = histogram[1]
    size = -(-fields.bit_length() // FIELD_BITS) * FIELD_BYTES
    out = array("Q", fields.to_bytes(size, "little"))
    if sys.byteorder == "big":
        out.byteswap()
    return out


def total(histogram: Hist) -> int:
    """How many values the histogram holds."""
    return sum(counts(histogram))


def percentiles(histogram: Hist, quantiles: Iterable[float]) -> list[float] | None:
    """The nearest-rank estimate of each quantile (0..1); None for an empty histogram."""
    if not histogram[1]:
        return None
    cumulative = list(accumulate(counts(histogram)))
    n = cumulative[-1]
    first = histogram[0]
    return [_ESTIMATE[first + bisect_left(cumulative, max(1, math.ceil(q * n)))] for q in quantiles]


def encode(histogram: Hist) -> bytes:
    """Compact bytes: the first non-empty bucket (2 bytes), then the fields from there."""
    first, fields = histogram
    if not fields:
        return b""
    empty_low = ((fields & -fields).bit_length() - 1) // FIELD_BITS
    fields >>= FIELD_BITS * empty_low
    return (first + empty_low).to_bytes(2, "little") + fields.to_bytes(
        (fields.bit_length() + 7) // 8, "little"
    )


def decode(data: bytes | None) -> Hist:
    """The histogram of `encode()` bytes."""
    if not data:
        return EMPTY
    return int.from_bytes(data[:2], "little"), int.from_bytes(data[2:], "little")


def to_map(histogram: Hist) -> dict[str, int]:
    """{bucket: count} of the non-empty buckets, keys as strings (MongoDB field names)."""
    first = histogram[0]
    return {str(first + k): c for k, c in enumerate(counts(histogram)) if c}


def from_map(buckets: Mapping[str, int] | None) -> Hist:
    """The histogram of a `to_map()` map."""
    if not buckets:
        return EMPTY
    first = min(int(i) for i in buckets)
    return first, sum(count << (FIELD_BITS * (int(i) - first)) for i, count in buckets.items())
