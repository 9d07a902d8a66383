"""core/usage/histogram.py: exact merges, encodings that round-trip, percentiles within 2%."""

from __future__ import annotations

import math

from hypothesis import given, strategies as st

from core.usage import histogram as h

LATENCIES = st.lists(st.floats(min_value=0.0, max_value=1e8, allow_nan=False), max_size=300)


def _of(values: list[float]) -> h.Hist:
    return h.merge_all(h.single(v) for v in values)


@given(LATENCIES, LATENCIES)
def test_merging_is_adding_the_values(a: list[float], b: list[float]) -> None:
    assert h.to_map(h.merge(_of(a), _of(b))) == h.to_map(_of(a + b))
    assert h.total(h.merge(_of(a), _of(b))) == len(a) + len(b)
    assert h.to_map(h.subtract(_of(a + b), _of(b))) == h.to_map(_of(a))


@given(LATENCIES, st.booleans())
def test_encodings_round_trip(values: list[float], compact: bool) -> None:
    histogram = _of(values)
    assert h.to_map(h.decode(h.encode(histogram, compact=compact))) == h.to_map(histogram)
    assert h.to_map(h.from_map(h.to_map(histogram))) == h.to_map(histogram)
    buckets = [h.bucket_of(v) for v in values]
    assert h.to_map(h.of_buckets(buckets)) == h.to_map(histogram)


@given(st.lists(st.tuples(LATENCIES, st.booleans()), max_size=12))
def test_merging_encoded_histograms_is_decoding_then_merging(
    parts: list[tuple[list[float], bool]],
) -> None:
    encoded = [h.encode(_of(values), compact=compact) for values, compact in parts]
    merged = h.merge_encoded([*encoded, None])
    assert h.to_map(merged) == h.to_map(h.merge_all(map(h.decode, encoded)))
    assert merged[1] == 0 or merged[1] & ((1 << 64) - 1)  # starts at its first used bucket


def test_counts_beyond_32_bits_survive_every_encoding() -> None:
    histogram = (7, (1 << 40) | (3 << 64))
    for compact in (False, True):
        assert h.to_map(h.decode(h.encode(histogram, compact=compact))) == {"7": 1 << 40, "8": 3}


@given(st.lists(st.floats(min_value=0.01, max_value=1.4e7), min_size=1, max_size=400))
def test_percentiles_are_within_two_percent(values: list[float]) -> None:
    ordered = sorted(values)
    found = h.summary(_of(values), (0.5, 0.9, 0.99))
    assert found is not None
    count, estimates = found
    assert count == len(values)
    for q, estimate in zip((0.5, 0.9, 0.99), estimates, strict=True):
        exact = ordered[math.ceil(q * len(ordered)) - 1]
        assert abs(estimate - exact) <= h.RELATIVE_ERROR * exact * 1.0001


def test_an_empty_histogram_has_no_percentiles() -> None:
    assert h.percentiles(h.EMPTY, (0.5,)) is None
    assert h.encode(h.EMPTY) == b""
    assert h.decode(b"") == h.EMPTY
