"""Sample records and a plain-Python oracle of the query semantics both stores share."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from core.store.base import ApiKeyRecord, Attempt, LogFilter, LogRecord, LogScope, LogSort


def make_log(id: str, created_at: int = 1_000, **changes: Any) -> LogRecord:
    base = LogRecord(
        id=id,
        created_at=created_at,
        model="openai-main/gpt-4o",
        resolved_model="openai-main/gpt-4o",
        provider_account="openai-main",
        subject="user:alice@example.com",
        key_id="key-alice",
        status="success",
        http_status=200,
        stream=False,
        latency_ms=120.5,
    )
    return replace(base, **changes)


def make_key(id: str, created_at: int = 1_000, **changes: Any) -> ApiKeyRecord:
    base = ApiKeyRecord(
        id=id,
        digest=f"digest-{id}",
        prefix=f"gw-{id[:4]}",
        subject="user:alice@example.com",
        created_at=created_at,
    )
    return replace(base, **changes)


# Values chosen so that every operator splits the set: shared created_at (tie-break by id),
# a fallback (requested != resolved), no provider reached (""), None ttft, no teams, missing
# metadata keys, LIKE wildcards and regex metacharacters, mixed case and non-ASCII text.
SAMPLE: tuple[LogRecord, ...] = (
    make_log(
        "r1",
        1_000,
        teams=("red", "blue"),
        metadata={"customer_id": "123", "application": "booking-bot"},
        input_tokens=10,
        output_tokens=20,
        total_tokens=30,
        cost=0.5,
    ),
    make_log(
        "r2",
        2_000,
        api="chat.completions",
        resolved_model="azure-east/gpt-4o",
        provider_account="azure-east",
        subject="user:bob@example.com",
        key_id="key-bob",
        teams=("blue",),
        stream=True,
        ttft_ms=12.5,
        metadata={"customer_id": "456"},
        attempts=(Attempt("openai-main/gpt-4o", 503, "upstream_unavailable", 30.0),),
        input_tokens=5,
        output_tokens=7,
        total_tokens=12,
        cost=0.25,
        latency_ms=80.0,
    ),
    make_log(
        "r3",
        3_000,
        api="responses",
        model="anthropic-main/claude (v2.1)*",
        resolved_model="",
        provider_account="",
        status="error",
        http_status=429,
        error_code="rate_limited",
        error_message="Too many requests",
        latency_ms=1.25,
    ),
    make_log(
        "r4",
        4_000,
        api="chat.completions",
        model="Mock-Main/Echo_100%",
        resolved_model="mock-main/echo_100%",
        provider_account="mock-main",
        subject="virtualaccount:ci",
        key_id="key-ci",
        teams=("green",),
        stream=True,
        ttft_ms=3.0,
        metadata={"customer_id": "123", "application": "Booking-Bot", "note": "a_b%c"},
        input_tokens=100,
        output_tokens=1,
        total_tokens=101,
        latency_ms=250.0,
    ),
    make_log(
        "r5",
        5_000,
        model="openai-main/gpt-4o-mini",
        resolved_model="openai-main/gpt-4o-mini",
        subject="user:bob@example.com",
        key_id="key-bob",
        teams=("red",),
        metadata={"application": "ÉCOLE"},
        ttft_ms=40.0,
        input_tokens=3,
        output_tokens=3,
        total_tokens=6,
        cost=1.75,
    ),
    make_log(
        "r6",
        5_000,
        model="openai-main/gpt-4o-mini",
        resolved_model="openai-main/gpt-4o",
        status="error",
        http_status=500,
        error_code="upstream_error",
        metadata={"customer_id": "789", "application": "école"},
        ttft_ms=None,
        cost=0.0,
        latency_ms=0.0,
    ),
)

_ATTRIBUTE = {"user": "subject", "team": "teams"}


def field_values(record: LogRecord, field: str) -> list[Any]:
    """The values a filter on `field` looks at: several for model and team, [] if missing."""
    if field == "model":
        return [record.model, record.resolved_model]
    if field.startswith("metadata."):
        key = field.removeprefix("metadata.")
        return [record.metadata[key]] if key in record.metadata else []
    if field == "team":
        return list(record.teams)
    return [getattr(record, _ATTRIBUTE.get(field, field))]


def _holds(op: str, value: Any, expected: Any) -> bool:
    if value is None:
        return False
    if op == "EQ":
        return bool(value == expected)
    if op == "IN":
        return bool(value in expected)
    if op == "CONTAINS":
        return isinstance(value, str) and str(expected).lower() in value.lower()
    outcome: bool = {
        "LT": value < expected,
        "LTE": value <= expected,
        "GT": value > expected,
        "GTE": value >= expected,
    }[op]
    return outcome


def matches(record: LogRecord, f: LogFilter) -> bool:
    values = field_values(record, f.field)
    if f.field == "model" and f.operator in ("LT", "LTE", "GT", "GTE"):
        values = values[:1]  # ordering compares the requested model only
    if f.operator in ("NEQ", "NOT_IN"):
        positive = "EQ" if f.operator == "NEQ" else "IN"
        return not any(_holds(positive, v, f.value) for v in values)
    return any(_holds(f.operator, v, f.value) for v in values)


def visible(record: LogRecord, scope: LogScope | None) -> bool:
    if scope is None:
        return True
    return record.subject in scope.subjects or any(t in scope.teams for t in record.teams)


def _sort_value(record: LogRecord, sort: LogSort) -> Any:
    if sort.field == "team":
        # An array sorts by its smallest element ascending, its largest descending.
        pick = max if sort.descending else min
        value = pick(record.teams) if record.teams else None
    else:
        values = field_values(record, sort.field)  # model: the requested one comes first
        value = values[0] if values else None
    return (value is not None, value if value is not None else 0)


def _by(sort: LogSort, record: LogRecord) -> Any:
    return _sort_value(record, sort)


def expected_order(records: Sequence[LogRecord], sort: Sequence[LogSort]) -> list[str]:
    """Ids sorted by the keys, then id in the first key's direction; None first ascending."""
    keys = [*sort, LogSort("id", sort[0].descending)]
    ordered = list(records)
    for key in reversed(keys):
        ordered.sort(key=functools.partial(_by, key), reverse=key.descending)
    return [r.id for r in ordered]
