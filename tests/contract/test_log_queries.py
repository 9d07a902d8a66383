"""Log queries: every operator on every field, the special fields, sort, paging, scope."""

from __future__ import annotations

import typing
from typing import Any

import pytest

from core.store.base import LOG_FIELDS, LogFilter, LogQuery, LogScope, LogSort, Operator, Store
from tests.contract.records import SAMPLE, expected_order, matches, visible

OPERATORS: tuple[Operator, ...] = typing.get_args(Operator)
FIELDS = [*LOG_FIELDS, "metadata.customer_id", "metadata.application", "metadata.note"]

# Per field: values to probe with (sample values plus ones no record has).
PROBES: dict[str, list[Any]] = {
    "id": ["r3", "r0", "R3"],
    "created_at": [3_000, 5_000, 0],
    "model": ["openai-main/gpt-4o", "mock-main/echo_100%", "azure", "zzz"],
    "resolved_model": ["", "openai-main/gpt-4o", "mock"],
    "provider_account": ["", "azure-east", "MAIN"],
    "user": ["user:bob@example.com", "virtualaccount:ci", "BOB"],
    "key_id": ["key-bob", "key-zzz"],
    "team": ["blue", "red", "gree", "zzz"],
    "status": ["success", "error"],
    "http_status": [200, 429, 1000],
    "error_code": ["", "rate_limited", "ERROR"],
    "stream": [True, False],
    "api": ["chat.completions", "", "responses", "grpc"],
    "input_tokens": [10, 0],
    "output_tokens": [7, 100],
    "total_tokens": [30, 12],
    "cost": [0.25, 0.0, 0.5],
    "latency_ms": [120.5, 0.0, 80],
    "ttft_ms": [12.5, 3.0, 0.0],
    "metadata.customer_id": ["123", "456", "2", "nope"],
    "metadata.application": ["booking-bot", "école", "BOOKING", "éc"],
    "metadata.note": ["a_b%c", "_b%", "a%", "x"],
}
# Substrings that only a literal (not a wildcard / regex) reading finds or rejects.
CONTAINS_PROBES = {
    "model": ["GPT-4O", "echo_100%", "o_1", "(v2.1)*", ".*", "100%"],
    "metadata.note": ["_", "%", "b_", "a%"],
    "metadata.application": ["ÉCO", "BOOKING-"],
    "user": ["@EXAMPLE", "."],
    "api": ["CHAT", ".c"],
}


def _filters(field: str) -> list[LogFilter]:
    probes = PROBES[field]
    kind = LOG_FIELDS.get(field, str)
    out = []
    for op in OPERATORS:
        if op == "CONTAINS" and kind is not str:
            continue  # CONTAINS applies to strings only (validated before the store)
        if op == "IN" or op == "NOT_IN":
            out += [
                LogFilter(field, op, probes[:2]),
                LogFilter(field, op, []),
                LogFilter(field, op, probes[-1:]),
            ]
        else:
            out += [LogFilter(field, op, v) for v in probes]
    out += [LogFilter(field, "CONTAINS", v) for v in CONTAINS_PROBES.get(field, [])]
    return out


@pytest.mark.parametrize("field", FIELDS)
async def test_every_operator_on_every_field(store: Store, field: str) -> None:
    await store.insert_logs(SAMPLE)
    for f in _filters(field):
        page = await store.query_logs(LogQuery(filters=(f,), limit=100))
        expected = sorted(r.id for r in SAMPLE if matches(r, f))
        assert sorted(r.id for r in page.records) == expected, f
        assert page.total == len(expected), f


CASES = [
    # model: requested OR resolved for EQ / IN / CONTAINS, NEITHER for NEQ / NOT_IN.
    (LogFilter("model", "EQ", "azure-east/gpt-4o"), ["r2"]),
    (LogFilter("model", "EQ", "openai-main/gpt-4o"), ["r1", "r2", "r6"]),
    (LogFilter("model", "NEQ", "openai-main/gpt-4o"), ["r3", "r4", "r5"]),
    (LogFilter("model", "IN", ["azure-east/gpt-4o", "mock-main/echo_100%"]), ["r2", "r4"]),
    (LogFilter("model", "NOT_IN", ["openai-main/gpt-4o", "openai-main/gpt-4o-mini"]), ["r3", "r4"]),
    (LogFilter("model", "CONTAINS", "AZURE"), ["r2"]),
    (LogFilter("model", "GTE", "openai-main/gpt-4o-mini"), ["r5", "r6"]),  # requested only
    # team: membership and overlap.
    (LogFilter("team", "EQ", "blue"), ["r1", "r2"]),
    (LogFilter("team", "NEQ", "blue"), ["r3", "r4", "r5", "r6"]),
    (LogFilter("team", "IN", ["green", "blue"]), ["r1", "r2", "r4"]),
    (LogFilter("team", "NOT_IN", ["red", "green"]), ["r2", "r3", "r6"]),
    # metadata: strings; NEQ / NOT_IN match records without the key.
    (LogFilter("metadata.customer_id", "EQ", "123"), ["r1", "r4"]),
    (LogFilter("metadata.customer_id", "NEQ", "123"), ["r2", "r3", "r5", "r6"]),
    (LogFilter("metadata.customer_id", "NOT_IN", ["123", "456"]), ["r3", "r5", "r6"]),
    (LogFilter("metadata.customer_id", "GT", "200"), ["r2", "r6"]),
    (LogFilter("metadata.application", "CONTAINS", "ÉCOLE"), ["r5", "r6"]),
    (LogFilter("metadata.note", "CONTAINS", "b%"), ["r4"]),
    (LogFilter("metadata.missing", "NEQ", "x"), ["r1", "r2", "r3", "r4", "r5", "r6"]),
    (LogFilter("metadata.missing", "EQ", "x"), []),
    # None: never compared, but NEQ / NOT_IN match it.
    (LogFilter("ttft_ms", "LT", 100.0), ["r2", "r4", "r5"]),
    (LogFilter("ttft_ms", "NEQ", 3.0), ["r1", "r2", "r3", "r5", "r6"]),
    (LogFilter("ttft_ms", "NOT_IN", [3.0, 12.5]), ["r1", "r3", "r5", "r6"]),
    # wildcards and metacharacters are literal
    (LogFilter("model", "CONTAINS", "%"), ["r4"]),
    (LogFilter("model", "CONTAINS", "(V2.1)*"), ["r3"]),
    (LogFilter("stream", "EQ", True), ["r2", "r4"]),
    (LogFilter("cost", "GT", 0), ["r1", "r2", "r5"]),
]


@pytest.mark.parametrize(("flt", "expected"), CASES, ids=str)
async def test_documented_semantics(store: Store, flt: LogFilter, expected: list[str]) -> None:
    await store.insert_logs(SAMPLE)
    page = await store.query_logs(LogQuery(filters=(flt,), limit=100))
    assert sorted(r.id for r in page.records) == expected
    # The oracle used by the sweep above agrees with the hand-written expectation.
    assert sorted(r.id for r in SAMPLE if matches(r, flt)) == expected


async def test_filters_are_anded(store: Store) -> None:
    await store.insert_logs(SAMPLE)
    filters = (
        LogFilter("created_at", "GTE", 2_000),
        LogFilter("created_at", "LT", 5_000),
        LogFilter("metadata.customer_id", "IN", ["123", "456"]),
        LogFilter("model", "NEQ", "azure-east/gpt-4o"),
    )
    page = await store.query_logs(LogQuery(filters=filters))
    assert [r.id for r in page.records] == ["r4"]
    assert page.total == 1


SORTS = [
    (LogSort("created_at"),),
    (LogSort("created_at", descending=False),),
    *[
        (LogSort(field, descending=d),)
        for field in FIELDS
        if field != "created_at"
        for d in (False, True)
    ],
    (LogSort("status", descending=False), LogSort("cost")),
    (LogSort("stream"), LogSort("ttft_ms", descending=False), LogSort("created_at")),
    (
        LogSort("user", descending=False),
        LogSort("metadata.customer_id"),
        LogSort("id", descending=False),
    ),
]


@pytest.mark.parametrize(
    "sort", SORTS, ids=lambda s: ",".join(f"{k.field}{'-' if k.descending else '+'}" for k in s)
)
async def test_sort(store: Store, sort: tuple[LogSort, ...]) -> None:
    await store.insert_logs(SAMPLE)
    page = await store.query_logs(LogQuery(sort=sort, limit=100))
    assert [r.id for r in page.records] == expected_order(SAMPLE, sort)


async def test_default_sort_is_newest_first_then_id(store: Store) -> None:
    await store.insert_logs(SAMPLE)
    page = await store.query_logs(LogQuery())
    assert [r.id for r in page.records] == ["r6", "r5", "r4", "r3", "r2", "r1"]


async def test_limit_offset_and_total(store: Store) -> None:
    await store.insert_logs(SAMPLE)
    pages = [await store.query_logs(LogQuery(limit=2, offset=o)) for o in (0, 2, 4, 6)]
    assert [[r.id for r in p.records] for p in pages] == [
        ["r6", "r5"],
        ["r4", "r3"],
        ["r2", "r1"],
        [],
    ]
    assert {p.total for p in pages} == {6}
    filtered = await store.query_logs(
        LogQuery(filters=(LogFilter("status", "EQ", "error"),), limit=1, offset=1)
    )
    assert [r.id for r in filtered.records] == ["r3"]
    assert filtered.total == 2
    nothing = await store.query_logs(LogQuery(limit=0))
    assert nothing.records == []
    assert nothing.total == 6


SCOPES = [
    LogScope(subjects=("user:bob@example.com",)),
    LogScope(teams=("red",)),
    LogScope(subjects=("virtualaccount:ci",), teams=("blue",)),
    LogScope(subjects=("user:nobody",), teams=("nobody",)),
    LogScope(),
]


@pytest.mark.parametrize("scope", SCOPES, ids=str)
async def test_scope(store: Store, scope: LogScope) -> None:
    await store.insert_logs(SAMPLE)
    page = await store.query_logs(LogQuery(scope=scope, limit=100))
    expected = [
        r.id
        for r in sorted(SAMPLE, key=lambda r: (r.created_at, r.id), reverse=True)
        if visible(r, scope)
    ]
    assert [r.id for r in page.records] == expected
    assert page.total == len(expected)
    # Scope ANDs with filters, and an OR inside the scope does not leak past them.
    narrowed = await store.query_logs(
        LogQuery(filters=(LogFilter("status", "EQ", "error"),), scope=scope)
    )
    assert [r.id for r in narrowed.records] == [i for i in expected if i in ("r3", "r6")]
