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

Stores keep a histogram as `encode()` bytes (SQLite: pairs or fields, whichever is shorter)
or as a {bucket: count} map (MongoDB, for `$inc`).
"""

from __future__ import annotations

import math
import struct
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


def subtract(a: Hist, b: Hist) -> Hist:
    """The values of `a` less those of `b`, which must all be in `a`."""
    first_a, fields_a = a
    first_b, fields_b = b
    if not fields_b:
        return a
    if first_b >= first_a:
        return first_a, fields_a - (fields_b << (FIELD_BITS * (first_b - first_a)))
    # `b`'s lowest bucket is below `a`'s first, so `a` has empty fields there: shift `a` down.
    return first_b, (fields_a << (FIELD_BITS * (first_a - first_b))) - fields_b


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
    found = summary(histogram, quantiles)
    return None if found is None else found[1]


def summary(histogram: Hist, quantiles: Iterable[float]) -> tuple[int, list[float]] | None:
    """(how many values, the nearest-rank estimate of each quantile) in one pass; None for
    an empty histogram."""
    first, fields = histogram
    if fields <= 0:  # empty (or broken: Totals.consistent tells)
        return None
    buckets: Sequence[int]
    if fields.bit_count() <= _SPARSE_MAX:  # a few values: walk their buckets, not all
        used = _used(histogram)
        buckets = [b for b, _ in used]
        cumulative = list(accumulate(c for _, c in used))
    else:
        raw = fields.to_bytes(-(-fields.bit_length() // FIELD_BITS) * FIELD_BYTES, "little")
        cumulative = list(accumulate(memoryview(raw).cast("Q") if _NATIVE else counts(histogram)))
        buckets = range(first, first + len(cumulative))
    n = cumulative[-1]
    return n, [
        _ESTIMATE[buckets[bisect_left(cumulative, max(1, math.ceil(q * n)))]] for q in quantiles
    ]


def _used(histogram: Hist) -> list[tuple[int, int]]:
    """(bucket, count) of the used buckets, in order: cheap when few bits are set."""
    first, fields = histogram
    out = []
    while fields > 0:
        k = ((fields & -fields).bit_length() - 1) >> 6  # FIELD_BITS == 64
        count = (fields >> (k << 6)) & _FIELD_MASK
        out.append((first + k, count))
        fields -= count << (k << 6)
    return out


_SPARSE = 1  # then (bucket: u16, count: u64) per non-empty bucket
_DENSE = 2  # then the first bucket (u16) and the 64-bit fields from there
_PAIR = struct.Struct("<HQ")
_ONE_SPARSE = bytes([_SPARSE])
_SPARSE_MAX = 8  # pairs: beyond that, decoding them costs more than the fields' bytes save
_FIELD_MASK = (1 << 64) - 1
_NATIVE = sys.byteorder == "little"  # fields read in place as native 64-bit ints


def encode(histogram: Hist, *, compact: bool = False) -> bytes:
    """Bytes of the 64-bit fields from the first used bucket (one C call each way); with
    `compact`, (bucket, count) pairs instead when few buckets are used, as in most hour rows
    (a few calls each): smaller to keep and to read, dearer to write."""
    first, fields = histogram
    if not fields:
        return b""
    if fields == 1:  # one call: the common row of a busy minute's batch
        return _ONE_SPARSE + _PAIR.pack(first, 1)
    empty_low = ((fields & -fields).bit_length() - 1) // FIELD_BITS
    fields >>= FIELD_BITS * empty_low
    first += empty_low
    if compact and fields.bit_count() <= _SPARSE_MAX:  # so at most that many buckets used
        return _ONE_SPARSE + b"".join(_PAIR.pack(b, c) for b, c in _used((first, fields)))
    size = -(-fields.bit_length() // FIELD_BITS) * FIELD_BYTES
    return bytes([_DENSE]) + first.to_bytes(2, "little") + fields.to_bytes(size, "little")


def decode(data: bytes | None) -> Hist:
    """The histogram of `encode()` bytes."""
    if not data:
        return EMPTY
    if data[0] == _SPARSE:
        pairs = list(_PAIR.iter_unpack(memoryview(data)[1:]))
        first = pairs[0][0]
        fields = 0
        for bucket, count in pairs:
            fields += count << ((bucket - first) << 6)  # FIELD_BITS == 64
        return first, fields
    return int.from_bytes(data[1:3], "little"), int.from_bytes(data[3:], "little")


def merge_encoded(data: Iterable[bytes | None]) -> Hist:
    """`merge_all(map(decode, data))` in a few C-level passes instead of two calls per
    histogram: the read side merges tens of thousands of stored ones per query."""
    dense: list[Hist] = []
    sparse: list[bytes | memoryview] = []
    for encoded in data:
        if encoded:
            if encoded[0] == _SPARSE:
                sparse.append(memoryview(encoded)[1:])
            else:
                dense.append(
                    (int.from_bytes(encoded[1:3], "little"), int.from_bytes(encoded[3:], "little"))
                )
    if sparse:
        pairs = list(_PAIR.iter_unpack(b"".join(sparse)))
        first = min(pairs)[0]
        dense.append((first, sum(count << ((bucket - first) << 6) for bucket, count in pairs)))
    if len(dense) == 1:
        return dense[0]
    if not dense:
        return EMPTY
    first = min(dense)[0]
    return first, sum(fields << ((start - first) << 6) for start, fields in dense)


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
