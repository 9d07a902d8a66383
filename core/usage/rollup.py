"""Rollups: each record's totals added, at ingest, to one row per dimension set and time span.

A row is keyed by (set id, span, bucket start, dimension values). Spans are the UTC minute,
hour and day; a query reads the coarsest rows that fit its range and buckets and only the
edges from finer ones (core/usage/plan.py), so a month of data is a few thousand rows.
Stores write a batch's rows in the transaction (SQLite) or right after the batch (MongoDB)
that stores its records, and only for records that were not already stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson

from core.config.models import MetricsConfig
from core.store.base import LogRecord
from core.usage.dimensions import RollupSet, getter, rollup_sets
from core.usage.totals import Totals, of_record

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
SPANS = (MINUTE_MS, HOUR_MS, DAY_MS)

RollupKey = tuple[str, int, int, str]
"""(set id, span in ms, bucket start in epoch ms, dimension values as a JSON array)."""


ALWAYS = -(2**62)
"""The `since` of a set registered on a store without records: it holds every record."""


def since_for_new_set(newest_created_at: int | None, now_ms: int) -> int:
    """From when a set registered now holds every record: always, on an empty store; else
    from the first whole minute after both the newest stored record and now (older records
    are not in its rows, so queries read them raw)."""
    if newest_created_at is None:
        return ALWAYS
    after = max(newest_created_at + 1, now_ms)
    return floor_to(after + MINUTE_MS - 1, MINUTE_MS)


def floor_to(ms: int, span: int) -> int:
    """Start of the `span`-wide bucket holding `ms` (UTC; also right before 1970)."""
    return ms - ms % span


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

    @classmethod
    def from_config(cls, config: MetricsConfig | None) -> Rollups:
        keys = () if config is None else config.metadata_keys
        return cls(rollup_sets((k.key, k.with_) for k in keys))

    def aggregate(self, records: Iterable[LogRecord]) -> dict[RollupKey, Totals]:
        """The rows a batch adds to, with what it adds: minutes first, folded into hours
        and days (a batch rarely spans more than a minute, so folding is cheap)."""
        readers = [(s.id, [getter(d) for d in s.dimensions]) for s in self.sets]
        by_minute: dict[tuple[str, int, tuple[object, ...]], Totals] = {}
        for record in records:
            totals = of_record(record)
            minute = floor_to(record.created_at, MINUTE_MS)
            for set_id, getters in readers:
                minute_key = (set_id, minute, tuple(get(record) for get in getters))
                in_minute = by_minute.get(minute_key)
                if in_minute is None:
                    by_minute[minute_key] = in_minute = Totals()
                in_minute.add(totals)
        out: dict[RollupKey, Totals] = {}
        encoded: dict[tuple[object, ...], str] = {}
        for (set_id, minute, values), totals in by_minute.items():
            dims = encoded.get(values)
            if dims is None:
                encoded[values] = dims = encode_dimensions(values)
            for span in SPANS:
                key = (set_id, span, floor_to(minute, span), dims)
                found = out.get(key)
                if found is None:
                    out[key] = found = Totals()
                found.add(totals)
        return out
