"""The storage port: API keys and request-log records, behind one protocol.

Both adapters (sqlite.py, mongo.py) pass the same contract suite (tests/contract/). Queries
reach a store already validated (fields, operators, value types): stores trust them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:  # core.usage imports this module for LogRecord
    from core.usage.accumulate import Bucket, Classify, Grouped
    from core.usage.totals import Totals

Operator = Literal["EQ", "NEQ", "LT", "LTE", "GT", "GTE", "IN", "NOT_IN", "CONTAINS"]

# Filterable and sortable log fields (besides `metadata.<key>`), with their value types.
LOG_FIELDS: Mapping[str, type] = {
    "id": str,
    "created_at": int,
    "model": str,  # matches the requested OR the resolved model
    "resolved_model": str,
    "provider_account": str,
    "user": str,  # the key's subject
    "key_id": str,
    "team": str,  # matches any of the record's teams
    "status": str,  # "success" | "error"
    "http_status": int,
    "error_code": str,
    "stream": bool,
    "api": str,  # the API the call came in through (core/inbound.py)
    "input_tokens": int,
    "output_tokens": int,
    "total_tokens": int,
    "cost": float,
    "latency_ms": float,
    "ttft_ms": float,
}


# The LogRecord attribute of each single-valued field (`team` is the tuple `teams`); the
# SQLite store's columns have the same names.
RECORD_ATTRIBUTES: Mapping[str, str] = {
    field: "subject" if field == "user" else field for field in LOG_FIELDS if field != "team"
}


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A stored API key: the secret itself is never stored, only its SHA-256 digest."""

    id: str
    digest: str
    prefix: str
    subject: str
    created_at: int  # epoch ms
    teams: tuple[str, ...] = ()
    admin_teams: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    expires_at: int | None = None
    last_used_at: int | None = None
    revoked_at: int | None = None


@dataclass(frozen=True, slots=True)
class StoredResponseRecord:
    """A stored Responses API response, owned by the key that made it."""

    id: str
    key_id: str
    created_at: int  # epoch ms
    body: bytes
    """The serialized `gateway.v1.StoredResponse`: stores keep it opaque, byte for byte."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One upstream attempt of a call."""

    model: str
    http_status: int
    error_code: str
    latency_ms: float
    # What the provider reported (or, for an attempt it billed without reporting, estimated).
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0


@dataclass(frozen=True, slots=True)
class LogRecord:
    """The record of one LLM call (DESIGN section 5)."""

    id: str
    created_at: int  # epoch ms
    model: str  # requested, `account/model`
    resolved_model: str  # answered, after routing; "" when no provider was reached
    provider_account: str
    subject: str
    key_id: str
    status: str  # "success" | "error"
    http_status: int
    stream: bool
    latency_ms: float
    teams: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    attempts: tuple[Attempt, ...] = ()
    error_code: str = ""
    error_message: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cost: float = 0.0
    ttft_ms: float | None = None
    upstream_ms: float | None = None  # time spent in the provider; None when none was reached
    # OpenAI JSON text, exactly as logged (stores keep it byte for byte); None when opted out.
    request_body: str | None = None
    response_body: str | None = None
    api: str = ""  # the API the call came in through (core/inbound.py); "" when not known

    @property
    def overhead_ms(self) -> float | None:
        """The gateway's own time: the call's latency less the time upstream (None when no
        provider was reached)."""
        upstream = self.upstream_ms
        return None if upstream is None else max(self.latency_ms - upstream, 0.0)


@dataclass(frozen=True, slots=True)
class LogFilter:
    """`field operator value`; field is a LOG_FIELDS key or `metadata.<key>`."""

    field: str
    operator: Operator
    value: Any  # a list for IN / NOT_IN


@dataclass(frozen=True, slots=True)
class LogSort:
    field: str
    descending: bool = True


@dataclass(frozen=True, slots=True)
class LogScope:
    """Which records a caller may see: its own subjects' and its teams'. None in a query = all."""

    subjects: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LogQuery:
    filters: tuple[LogFilter, ...] = ()
    sort: tuple[LogSort, ...] = (LogSort("created_at"),)
    limit: int = 25
    offset: int = 0
    scope: LogScope | None = None


@dataclass(frozen=True, slots=True)
class LogPage:
    records: list[LogRecord]
    total: int


@dataclass(frozen=True, slots=True)
class RollupRow:
    """One stored rollup row of a set and span (core/usage/rollup.py)."""

    start: int  # bucket start, epoch ms
    dimensions: str  # the set's dimension values, a JSON array
    totals: Totals


class MetricsReader(Protocol):
    """What metrics queries read: raw records and rollup rows."""

    async def scan_logs(self, query: LogQuery) -> list[LogRecord]:
        """Every record the query's filters and scope match, in no order, without bodies or
        attempts (sort, limit and offset are ignored): the raw side of metrics queries."""
        ...

    # --- rollups (when the store was given a core.usage.rollup.Rollups)
    async def rollup_since(self) -> Mapping[str, int]:
        """For each rolled-up set id, from when (epoch ms, a minute boundary) its rows hold
        every record: a set first seen by a store with records starts after the newest one."""
        ...

    async def rollups_folded_until(self) -> int:
        """Up to when (epoch ms) hour and day rows are complete; after it only minute rows
        are (a store that writes every span at ingest answers FOLDED_ALWAYS)."""
        ...

    async def read_rollups(self, set_id: str, span: int, start: int, end: int) -> list[RollupRow]:
        """The rows of a set and span whose bucket starts in [start, end)."""
        ...

    async def count_rollups(
        self, set_id: str, pieces: Sequence[tuple[int, int, int]]
    ) -> dict[str, int]:
        """Requests by dimension text over the rows of a set in each (span, start, end)."""
        ...

    async def aggregate_rollups(
        self,
        set_id: str,
        pieces: Sequence[tuple[int, int, int]],
        classify: Classify,
        bucket: Bucket,
        *,
        histograms: bool = True,
        dimensions: Collection[str] | None = None,
    ) -> Grouped:
        """The rows of a set in each (span, start, end) piece, added up by group and time
        bucket (core/usage/accumulate.py); without `histograms` their histograms are not
        read (the totals' stay empty); with `dimensions`, only rows of those texts."""
        ...


class Store(Protocol):
    """Everything the gateway persists. Adapters must behave identically."""

    async def open(self) -> None:
        """Connects and creates the schema / indexes (idempotent)."""
        ...

    async def close(self) -> None: ...

    # --- API keys
    async def insert_key(self, key: ApiKeyRecord) -> None: ...

    async def find_key_by_digest(self, digest: str) -> ApiKeyRecord | None: ...

    async def get_key(self, key_id: str) -> ApiKeyRecord | None: ...

    async def list_keys(
        self, *, subject: str | None = None, include_revoked: bool = False
    ) -> list[ApiKeyRecord]:
        """Keys, newest first."""
        ...

    async def update_key(self, key: ApiKeyRecord) -> None:
        """Replaces the key with the same id (revoke, rotate)."""
        ...

    async def touch_keys(self, last_used: Mapping[str, int]) -> None:
        """Sets `last_used_at` (epoch ms) of several keys at once."""
        ...

    # --- stored responses (the Responses API's `previous_response_id`)
    async def insert_response(self, response: StoredResponseRecord) -> bool:
        """Stores a response; False (and nothing changed) when its id is taken."""
        ...

    async def get_response(self, response_id: str) -> StoredResponseRecord | None: ...

    async def delete_response(self, response_id: str) -> bool:
        """Deletes a response; False when there was none with that id."""
        ...

    async def delete_responses_before(self, created_before: int, *, batch_size: int) -> int:
        """Deletes at most `batch_size` responses older than `created_before` (ms); returns
        how many went."""
        ...

    # --- request logs
    async def insert_logs(self, records: Sequence[LogRecord]) -> None:
        """Stores records; idempotent by id, so replaying a batch never duplicates."""
        ...

    async def query_logs(self, query: LogQuery) -> LogPage: ...

    async def get_log(self, log_id: str, scope: LogScope | None = None) -> LogRecord | None: ...

    async def newest_log_with_id_prefix(
        self, prefix: str, scope: LogScope | None = None
    ) -> LogRecord | None:
        """The newest record (by `created_at`, then id) whose id starts with `prefix`."""
        ...

    async def delete_logs_before(self, created_before: int, *, batch_size: int) -> int:
        """Deletes at most `batch_size` records older than `created_before` (ms), and the
        rollup rows whose whole bucket is older; returns how many records went."""
        ...

    def metrics_snapshot(self) -> AbstractAsyncContextManager[MetricsReader]:
        """The metrics reads of the block, from one snapshot of records and rollups where the
        store can give one (SQLite: one read transaction); else the store itself."""
        ...


def id_prefix_bounds(prefix: str) -> tuple[str, str]:
    """`[low, high)` holding exactly the strings that start with `prefix` (non-empty), in
    code point order, which is both SQLite's and MongoDB's order for ids."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)
