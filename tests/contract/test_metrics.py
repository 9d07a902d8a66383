"""Metrics from rollups, on every store, against expectations computed from a fixed data set.

The records span midnight UTC, minutes are never aligned, and every dimension has several
values (a fallback, no provider reached, several teams, missing metadata keys). Each answer
is checked against a plain-Python oracle over the records (records.py's filter semantics),
and rollup answers against the same query read from raw records only.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio

from core.errors import InvalidRequest
from core.store.base import LogFilter, LogRecord, LogScope, Store
from core.usage import histogram
from core.usage.dimensions import DIMENSIONS, getter
from core.usage.engine import MetricsEngine, MetricsResult
from core.usage.query import MetricsQuery
from core.usage.rollup import DAY_MS, HOUR_MS, MINUTE_MS
from core.usage.timeline import bucket_start
from core.usage.totals import Totals, cost_nano, of_record
from tests.contract.conftest import ROLLUPS, STORES, opened
from tests.contract.records import make_log, matches, visible

DAY0 = 1_712_275_200_000  # 2024-04-05 00:00 UTC
START = DAY0 + 22 * HOUR_MS
END = DAY0 + 27 * HOUR_MS
USERS = ("alice", "bob", "carol", "dave")
TEAMS = {
    "alice": ("team:red",),
    "bob": ("team:blue", "team:red"),
    "carol": (),
    "dave": ("team:blue",),
}
MODELS = ("openai-main/gpt-4o", "anthropic/claude", "mock-main/echo")


def _record(i: int) -> LogRecord:
    user = USERS[i % 4]
    model = MODELS[i % 3]
    failed = i % 5 == 4
    resolved = "azure-east/gpt-4o" if i % 7 == 0 else model
    if failed and i % 2 == 0:
        resolved = ""  # no provider reached
    metadata: dict[str, str] = {"application": "search" if i % 2 else "booking-bot"}
    if i % 4 != 3:
        metadata["customer_id"] = f"c{i % 3}"
    if i % 6 == 5:
        metadata = {}
    latency = 50.0 + (i * 37.5) % 900
    input_tokens, output_tokens = 10 + i, 0 if failed else 5 + 2 * i
    return make_log(
        f"m{i:02d}",
        START + i * 5 * MINUTE_MS + i * 7_001,  # never on a minute
        model=model,
        resolved_model=resolved,
        provider_account=resolved.split("/")[0],
        subject=f"user:{user}@example.com",
        key_id=f"key-{user}",
        teams=TEAMS[user],
        status="error" if failed else "success",
        http_status=(502 if i % 2 else 429) if failed else 200,
        error_code=("upstream_error" if i % 2 else "rate_limited") if failed else "",
        stream=i % 2 == 0,
        latency_ms=latency,
        upstream_ms=latency - (1 + i % 5) if resolved else None,
        ttft_ms=20.0 + i if i % 2 == 0 and not failed else None,
        metadata=metadata,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
        cost=(input_tokens * 2.5 + output_tokens * 10) / 1e6,
    )


RECORDS = [_record(i) for i in range(48)]
WIDE = 30 * DAY_MS  # a raw window wide enough for any query here

Figures = tuple[Any, ...]


def _figures(t: Totals) -> Figures:
    counts = (t.requests, t.errors, t.input_tokens, t.output_tokens, t.total_tokens, t.cost_nano)
    return (*counts, *(histogram.to_map(h) for h in (t.latency, t.ttft, t.overhead)))


def _answer(result: MetricsResult) -> dict[tuple[Any, ...], Figures]:
    return {(row.group, row.bucket_start, row.other): _figures(row.totals) for row in result.rows}


def _oracle(query: MetricsQuery, records: Sequence[LogRecord] = RECORDS) -> dict[Any, Figures]:
    """What the query should answer, from the records alone (no limit folding)."""
    groups: dict[tuple[Any, ...], Totals] = defaultdict(Totals)
    for record in records:
        if not query.start <= record.created_at < query.end:
            continue
        if not visible(record, query.scope):
            continue
        if not all(matches(record, f) for f in query.filters):
            continue
        choices = []
        for name in query.group_by:
            value = getter(name)(record)
            choices.append((value or (None,)) if name == "team" else (value,))
        bucket = None if query.interval is None else bucket_start(record.created_at, query.interval)
        for key in _product(choices):
            groups[key, bucket, False].add(of_record(record))
    return {key: _figures(t) for key, t in groups.items()}


def _product(choices: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = [()]
    for options in choices:
        out = [(*prefix, option) for prefix in out for option in options]
    return out


def _query(**changes: Any) -> MetricsQuery:
    return replace(MetricsQuery(start=START, end=END, limit=1000), **changes)


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=STORES)
async def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Store]:
    """Each store holding RECORDS, for the whole module (the tests only read)."""
    async with opened(request, tmp_path_factory.mktemp("metrics"), ROLLUPS) as store:
        await load(store)
        yield store


async def load(store: Store) -> None:
    # In three batches, the second overlapping the first: a replay must not count twice.
    await store.insert_logs(RECORDS[:20])
    await store.insert_logs(RECORDS[10:30])
    await store.insert_logs(RECORDS[30:])


def _engine(store: Store, *, raw_only: bool = False, raw_window_ms: int = WIDE) -> MetricsEngine:
    return MetricsEngine(store, None if raw_only else ROLLUPS, raw_window_ms=raw_window_ms)


async def test_totals_by_hand(loaded: Store) -> None:
    result = await _engine(loaded).run(_query())
    t = result.totals
    assert (t.requests, t.errors) == (48, 9)  # failed: i % 5 == 4, so 4, 9, ..., 44
    assert t.input_tokens == sum(10 + i for i in range(48))
    assert t.output_tokens == sum(5 + 2 * i for i in range(48) if i % 5 != 4)
    assert t.cost_nano == sum(cost_nano(r.cost) for r in RECORDS)
    assert histogram.total(t.latency) == 48
    assert histogram.total(t.ttft) == len([i for i in range(0, 48, 2) if i % 5 != 4])
    assert histogram.total(t.overhead) == len([r for r in RECORDS if r.resolved_model])
    assert _answer(result) == {((), None, False): _figures(t)}


@pytest.mark.parametrize(
    "group_by",
    [
        *((name,) for name in DIMENSIONS),
        ("metadata.customer_id",),
        ("metadata.application", "model"),
        ("metadata.undeclared",),
        ("user", "model"),
        ("team", "status"),
    ],
)
async def test_group_by(loaded: Store, group_by: tuple[str, ...]) -> None:
    query = _query(group_by=group_by)
    assert _answer(await _engine(loaded).run(query)) == _oracle(query)


async def test_team_groups_count_a_call_in_each_of_its_teams(loaded: Store) -> None:
    result = await _engine(loaded).run(_query(group_by=("team",)))
    by_team = {row.group: row.totals.requests for row in result.rows}
    assert by_team == {("team:blue",): 24, ("team:red",): 24, (None,): 12}
    assert result.totals.requests == 48  # each call once


async def test_day_buckets_across_midnight(loaded: Store) -> None:
    query = _query(group_by=("model",), interval="day")
    result = await _engine(loaded).run(query)
    assert _answer(result) == _oracle(query)
    per_day: dict[int | None, int] = defaultdict(int)
    for row in result.rows:
        per_day[row.bucket_start] += row.totals.requests
    # 22:00-24:00 holds i = 0..23 (i * 5 min + i * 7 s < 2 h), the rest is after midnight.
    assert dict(per_day) == {DAY0: 24, DAY0 + DAY_MS: 24}


@pytest.mark.parametrize("interval", ["minute", "hour", "week", "month"])
async def test_other_intervals(loaded: Store, interval: str) -> None:
    query = _query(group_by=("status",), interval=interval)
    assert _answer(await _engine(loaded).run(query)) == _oracle(query)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (START + 17 * MINUTE_MS + 12_345, END - 33 * MINUTE_MS - 999),  # edges mid-minute
        (START + 59_999, START + 2 * HOUR_MS + 1),
        (START + 5 * MINUTE_MS + 34_000, START + 5 * MINUTE_MS + 36_000),  # inside one minute
        (DAY0 - DAY_MS, DAY0 + 3 * DAY_MS),  # days around the data
    ],
)
async def test_any_millisecond_range_is_exact(loaded: Store, start: int, end: int) -> None:
    query = _query(start=start, end=end, group_by=("user",), interval="hour")
    assert _answer(await _engine(loaded).run(query)) == _oracle(query)


FILTERS: list[tuple[LogFilter, ...]] = [
    (LogFilter("model", "EQ", "azure-east/gpt-4o"),),  # requested OR resolved
    (LogFilter("model", "NEQ", "openai-main/gpt-4o"),),
    (LogFilter("model", "NOT_IN", ["anthropic/claude", "mock-main/echo"]),),
    (LogFilter("model", "CONTAINS", "GPT"),),
    (LogFilter("team", "EQ", "team:red"),),
    (LogFilter("team", "NEQ", "team:red"),),
    (LogFilter("team", "NOT_IN", ["team:red", "team:blue"]),),
    (LogFilter("status", "EQ", "error"), LogFilter("http_status", "GTE", 500)),
    (LogFilter("stream", "EQ", True),),
    (LogFilter("metadata.customer_id", "NEQ", "c1"),),
    (LogFilter("metadata.customer_id", "IN", ["c0", "c2"]),),
    (LogFilter("metadata.application", "EQ", "search"), LogFilter("model", "IN", list(MODELS))),
    (LogFilter("user", "LT", "user:c"), LogFilter("key_id", "CONTAINS", "ALI")),
    (LogFilter("provider_account", "EQ", ""),),
    (LogFilter("error_code", "NEQ", ""),),
    # Not rolled up with the groups, or not a dimension at all: read raw.
    (LogFilter("cost", "GT", 0.0005),),
    (LogFilter("metadata.undeclared", "NEQ", "x"),),
    (LogFilter("ttft_ms", "LT", 40.0),),
]


@pytest.mark.parametrize("filters", FILTERS)
@pytest.mark.parametrize("group_by", [(), ("model",), ("metadata.customer_id",), ("team",)])
async def test_filters_from_rollups_equal_raw_records(
    loaded: Store, filters: tuple[LogFilter, ...], group_by: tuple[str, ...]
) -> None:
    query = _query(filters=filters, group_by=group_by, interval="hour")
    from_rollups = _answer(await _engine(loaded).run(query))
    assert from_rollups == _answer(await _engine(loaded, raw_only=True).run(query))
    assert from_rollups == _oracle(query)


SCOPES = [
    LogScope(subjects=("user:alice@example.com",)),
    LogScope(subjects=("user:carol@example.com",), teams=("team:blue",)),
    LogScope(subjects=("user:nobody@example.com",)),
    LogScope(),  # sees nothing
]


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("group_by", [(), ("user",), ("metadata.customer_id",), ("model",)])
async def test_scoped_queries_see_only_their_calls(
    loaded: Store, scope: LogScope, group_by: tuple[str, ...]
) -> None:
    query = _query(scope=scope, group_by=group_by, interval="day")
    result = await _engine(loaded).run(query)
    assert _answer(result) == _oracle(query)
    seen = sum(1 for r in RECORDS if visible(r, scope))
    assert result.totals.requests == seen


async def test_percentiles_are_within_two_percent(loaded: Store) -> None:
    result = await _engine(loaded).run(_query())
    latencies = sorted(r.latency_ms for r in RECORDS)
    estimates = histogram.percentiles(result.totals.latency, (0.5, 0.9, 0.99))
    assert estimates is not None
    for q, estimate in zip((0.5, 0.9, 0.99), estimates, strict=True):
        exact = latencies[math.ceil(q * len(latencies)) - 1]
        assert abs(estimate - exact) <= histogram.RELATIVE_ERROR * exact


async def test_groups_beyond_the_limit_fold_into_other(loaded: Store) -> None:
    result = await _engine(loaded).run(_query(group_by=("user",), limit=2, interval="day"))
    kept = {row.group for row in result.rows if not row.other}
    assert kept == {("user:alice@example.com",), ("user:bob@example.com",)}  # 12 each; ties by name
    others = [row for row in result.rows if row.other]
    assert [row.bucket_start for row in others] == [DAY0, DAY0 + DAY_MS]
    assert sum(row.totals.requests for row in others) == 24
    assert result.rows[-2:] == others  # other rows last
    assert result.totals.requests == 48


async def test_a_query_no_rollup_holds_reads_raw_records_within_the_window(loaded: Store) -> None:
    query = _query(group_by=("metadata.undeclared",))
    narrow = _engine(loaded, raw_window_ms=HOUR_MS)
    with pytest.raises(InvalidRequest) as refused:
        await narrow.run(query)
    assert refused.value.param == "group_by[0]"
    assert "metadata.undeclared" in refused.value.message
    hour = replace(query, start=START, end=START + HOUR_MS)
    assert _answer(await narrow.run(hour)) == _oracle(hour)


def _folded(query: MetricsQuery) -> dict[Any, Figures]:
    """The oracle with the query's limit applied: the top groups, the rest as `other`."""
    by_group: dict[tuple[Any, ...], dict[Any, Totals]] = defaultdict(dict)
    for record in RECORDS:
        if not query.start <= record.created_at < query.end or not visible(record, query.scope):
            continue
        if not all(matches(record, f) for f in query.filters):
            continue
        key = tuple(getter(name)(record) for name in query.group_by)
        bucket = None if query.interval is None else bucket_start(record.created_at, query.interval)
        by_group[key].setdefault(bucket, Totals()).add(of_record(record))
    ranked = sorted(
        by_group,
        key=lambda k: (
            -sum(t.requests for t in by_group[k].values()),
            [(v is None, str(v)) for v in k],
        ),
    )
    out: dict[Any, Figures] = {}
    other: dict[Any, Totals] = defaultdict(Totals)
    for i, key in enumerate(ranked):
        for bucket, totals in by_group[key].items():
            if i < query.limit:
                out[key, bucket, False] = _figures(totals)
            else:
                other[bucket].add(totals)
    out.update({((), bucket, True): _figures(t) for bucket, t in other.items()})
    return out


@pytest.mark.parametrize("limit", [1, 3, 5])
@pytest.mark.parametrize(
    "group_by", [("model",), ("user", "model"), ("metadata.customer_id",), ("status",)]
)
@pytest.mark.parametrize("interval", [None, "hour"])
async def test_top_groups_and_the_rest_as_other(
    loaded: Store, limit: int, group_by: tuple[str, ...], interval: str | None
) -> None:
    query = _query(group_by=group_by, interval=interval, limit=limit)
    result = await _engine(loaded).run(query)
    assert _answer(result) == _folded(query)
    assert result.totals.requests == 48
    # Unaligned edges read raw records: the top groups and `other` still add up.
    edgy = replace(query, start=START + 3 * MINUTE_MS + 17, end=END - 61_001)
    assert _answer(await _engine(loaded).run(edgy)) == _folded(edgy)
