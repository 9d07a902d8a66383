"""What usage can be grouped and filtered by, and the dimension sets rolled up at ingest.

A dimension is a field of a log record with a small number of values: `model`, `user`,
`status`, `metadata.<key>`... A rollup set is a tuple of dimensions; each record adds its
totals to one row per set and time bucket, keyed by its values of those dimensions. A query
is served by the first set that holds every dimension it groups or filters by (and those
the caller's scope needs); anything else reads raw records (core/usage/engine.py).

The sets: `route` (the model and outcome: what an SRE slices by), `caller` (who called
which model: users, teams, keys, and every scoped query), and one per metadata key declared
in the `gateway-metrics-config` document, alone or with the dimensions listed beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import orjson

from core.metadata import FIELD_PREFIX, field_key
from core.store.base import RECORD_ATTRIBUTES, LogRecord

Getter = Callable[[LogRecord], Any]

# Each dimension's value in a record. `team` is the record's teams, a sorted tuple: a group
# by team puts the record in each of its teams' groups.
_SINGLE = (
    "model", "resolved_model", "provider_account", "user", "key_id", "status", "http_status",
    "error_code", "stream",
)  # fmt: skip
DIMENSIONS: Mapping[str, Getter] = {
    **{name: attrgetter(RECORD_ATTRIBUTES[name]) for name in _SINGLE},
    "team": lambda r: tuple(sorted(set(r.teams))),
}
GROUPABLE = (*DIMENSIONS, "metadata.<key>")

ROUTE_DIMENSIONS = (
    "model", "resolved_model", "provider_account", "status", "http_status", "error_code", "stream",
)  # fmt: skip
CALLER_DIMENSIONS = (
    "user", "key_id", "model", "resolved_model", "provider_account", "status", "team",
)  # fmt: skip


def is_dimension(field: str) -> bool:
    """Whether rollups can hold `field` (a DIMENSIONS name or `metadata.<key>`)."""
    return field in DIMENSIONS or field_key(field) is not None


def getter(field: str) -> Getter:
    """How to read a dimension off a record."""
    key = field_key(field)
    if key is None:
        return DIMENSIONS[field]
    return lambda r: r.metadata.get(key)


@dataclass(frozen=True, slots=True)
class RollupSet:
    """A named tuple of dimensions rolled up together."""

    id: str
    dimensions: tuple[str, ...]

    def covers(self, fields: Iterable[str]) -> bool:
        return set(fields) <= set(self.dimensions)


def _set_id(dimensions: tuple[str, ...]) -> str:
    """`metadata.<key>` alone; with more fields their JSON list (a key may hold any text)."""
    return dimensions[0] if len(dimensions) == 1 else orjson.dumps(dimensions).decode()


def rollup_sets(metadata: Iterable[tuple[str, Sequence[str]]] = ()) -> tuple[RollupSet, ...]:
    """The base sets, then one per (metadata key, dimensions beside it): the order a query
    tries them, so that it reads the set with the fewest rows that can answer it."""
    return (
        RollupSet("route", ROUTE_DIMENSIONS),
        RollupSet("caller", CALLER_DIMENSIONS),
        *(
            RollupSet(id=_set_id(dimensions), dimensions=dimensions)
            for dimensions in ((f"{FIELD_PREFIX}{key}", *beside) for key, beside in metadata)
        ),
    )
