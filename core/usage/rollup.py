"""Rollups: each record's totals added, at ingest, to one row per dimension set and time span.

A row is keyed by (set id, span, bucket start, dimension values). Spans are the UTC minute,
hour and day; a query reads the coarsest rows that fit its range and buckets and only the
edges from finer ones (core/usage/timeline.py), so a month of data is a few thousand rows.
Stores write a batch's rows in the transaction (SQLite) or right after the batch (MongoDB)
that stores its records, and only for records that were not already stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter

import orjson

from core.config.models import MetricsConfig
from core.store.base import RECORD_ATTRIBUTES, LogRecord
from core.usage.dimensions import RollupSet, getter, rollup_sets
from core.usage.histogram import bucket_of, of_buckets
from core.usage.totals import Totals, cost_nano, tokens

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
SPANS = (MINUTE_MS, HOUR_MS, DAY_MS)

_FIELD = (1 << 64) - 1
_ENCODED_CACHE = 100_000

RollupKey = tuple[str, int, int, str]
"""(set id, span in ms, bucket start in epoch ms, dimension values as a JSON array)."""


ALWAYS = -(2**62)
"""The `since` of a set registered on a store without records: it holds every record."""
FOLDED_ALWAYS = 2**62
"""`rollups_folded_until` of a store that adds every record to every span at ingest."""


def since_for_new_set(newest_created_at: int | None, now_ms: int) -> int:
    """From when a set registered now holds every record: always, on an empty store; else
    from the first whole minute after both the newest stored record and now (older records
    are not in its rows, so queries read them raw)."""
    if newest_created_at is None:
        return ALWAYS
    # A record logged with a time ahead of now (clock skew) must not push it into the future.
    after = max(min(newest_created_at, now_ms) + 1, now_ms)
    return floor_to(after + MINUTE_MS - 1, MINUTE_MS)


def floor_to(ms: int, span: int) -> int:
    """Start of the `span`-wide bucket holding `ms` (UTC; also right before 1970)."""
    return ms - ms % span


def ceil_to(ms: int, span: int) -> int:
    """The first `span` boundary at or after `ms`."""
    return -floor_to(-ms, span)


def encode_dimensions(values: Sequence[object]) -> str:
    """The JSON array text that keys a row (tuples become arrays, None null)."""
    return orjson.dumps(values).decode()


def decode_dimensions(text: str) -> list[object]:
    """The values of `encode_dimensions`, teams as a tuple again where they were one."""
    return [tuple(v) if isinstance(v, list) else v for v in orjson.loads(text)]


@dataclass(frozen=True, slots=True)
class Rollups:
    """The configured sets, and how a batch of records adds to their rows."""

    sets: tuple[RollupSet, ...]
    _encoded: dict[tuple[object, ...], str] = field(default_factory=dict, compare=False)
    """Dimension values -> their JSON key, across batches (the same few recur)."""

    @classmethod
    def from_config(cls, config: MetricsConfig | None) -> Rollups:
        keys = () if config is None else config.metadata_keys
        return cls(rollup_sets((k.key, k.with_) for k in keys))

    def aggregate(
        self, records: Iterable[LogRecord], spans: Sequence[int] = SPANS
    ) -> dict[RollupKey, Totals]:
        """The rows of `spans` a batch adds to, with what it adds.

        Records are grouped per set and minute first (a batch rarely spans more than a
        minute), each group keeping plain counters and lists of histogram buckets; the
        groups then make the rows of each span. This is the log writer's hot loop: no
        objects per record and set, only a key, a few additions and appends.
        """
        batch = records if isinstance(records, list) else list(records)
        keyers = [(s.id, keyer(s.dimensions)) for s in self.sets]
        # Per record once: its minute, its counters packed into one int (64 bits each, so a
        # group's counters add up in one C-level sum), and its histogram buckets.
        minutes = [r.created_at - r.created_at % MINUTE_MS for r in batch]
        packed = [
            1
            | (r.status != "success") << 64
            | tokens(r.input_tokens) << 128
            | tokens(r.output_tokens) << 192
            | tokens(r.total_tokens) << 256
            | cost_nano(r.cost) << 320
            for r in batch
        ]
        latency = [bucket_of(r.latency_ms) for r in batch]
        first_token = [-1 if r.ttft_ms is None else bucket_of(r.ttft_ms) for r in batch]
        overhead = [-1 if (o := r.overhead_ms) is None else bucket_of(o) for r in batch]
        # Per set: which records share a row.
        groups: dict[tuple[str, int, tuple[object, ...]], list[int]] = {}
        for set_id, key_of in keyers:
            for i, values in enumerate(map(key_of, batch)):
                key = (set_id, minutes[i], values)
                members = groups.get(key)
                if members is None:
                    groups[key] = [i]
                else:
                    members.append(i)
        out: dict[RollupKey, Totals] = {}
        encoded = self._encoded
        for (set_id, minute, values), members in groups.items():
            dims = encoded.get(values)
            if dims is None:
                if len(encoded) >= _ENCODED_CACHE:
                    encoded.clear()
                encoded[values] = dims = encode_dimensions(values)
            counters = sum(map(packed.__getitem__, members))
            totals = Totals(
                counters & _FIELD,
                counters >> 64 & _FIELD,
                counters >> 128 & _FIELD,
                counters >> 192 & _FIELD,
                counters >> 256 & _FIELD,
                counters >> 320,
                of_buckets([latency[i] for i in members]),
                of_buckets([first_token[i] for i in members if first_token[i] >= 0]),
                of_buckets([overhead[i] for i in members if overhead[i] >= 0]),
            )
            for span in spans:
                row = (set_id, span, minute - minute % span, dims)
                found = out.get(row)
                if found is None:
                    out[row] = totals if span == MINUTE_MS else replace(totals)
                else:
                    found.add(totals)
        return out


def keyer(dimensions: Sequence[str]) -> Callable[[LogRecord], tuple[object, ...]]:
    """A record's values of `dimensions`, as one tuple: the leading plain attributes in
    attrgetter's C loop, the rest (teams, metadata) one by one."""
    plain = 0
    while plain < len(dimensions) and dimensions[plain] in RECORD_ATTRIBUTES:
        plain += 1
    names = [RECORD_ATTRIBUTES[d] for d in dimensions[:plain]]
    rest = [getter(d) for d in dimensions[plain:]]
    if plain >= 2 and not rest:
        return attrgetter(*names)
    if plain >= 2 and len(rest) == 1:
        leading, last = attrgetter(*names), rest[0]
        return lambda record: (*leading(record), last(record))
    getters = [getter(d) for d in dimensions]
    return lambda record: tuple([get(record) for get in getters])
