"""Property tests of the parsers hostile input reaches first: each answers a value or its own
error (a 400 over HTTP, ConfigError for the YAML), never another exception.

- `X-TFY-METADATA`: the header bytes as the facade forwards them, parsed by core
  (`core.metadata`), as HTTP sends them and as gRPC call metadata.
- Log filters and queries: the JSON bodies of the log and metrics APIs (facade translate
  modules, `facade.filters`), core's checks (`core.logs.query`, `core.usage.query`), and the
  checked log queries run against a SQLite store holding varied records.
- The YAML config loader (`core.config.loader.parse_config`): any text, YAML-shaped documents
  and mutations of a valid config using every document type.

Bounded: a few hundred examples per property, derandomized, well under 20 s in all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings, strategies as st
from starlette.requests import Request

from codec import CodecError
from core.config.loader import ConfigError, GatewayConfig, load_config, parse_config
from core.errors import InvalidMetadata, InvalidRequest
from core.logs.query import OPERATORS, PageBounds, check_field_filters, query_from_request
from core.metadata import (
    CALL_METADATA_BIN_KEY,
    CALL_METADATA_KEY,
    HEADER,
    MAX_KEY_CHARS,
    MAX_KEYS,
    MAX_VALUE_CHARS,
    from_call,
    parse_metadata,
    valid_key,
)
from core.store.base import LOG_FIELDS, LogPage
from core.store.sqlite import SqliteStore
from core.usage.query import query_from_request as metrics_query_from_request
from facade.filters import filter_param, read_filters
from facade.inputs import caller_context
from facade.logs.translate import json_param, list_request_from_json
from facade.metrics.translate import json_param as metrics_json_param, query_from_json
from gateway.v1 import log_service_pb2
from tests.logapi.records import RECORDS, SEED_FROM, SEED_TO

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
FEWER = settings(PROPERTY, max_examples=150)
T = TypeVar("T")

# --- Strategies ------------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8"), max_size=12)  # what JSON can carry (no surrogates)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=16,
)
# What orjson can write (and so what a body parsed by orjson holds): 64-bit integers at most.
WIRE_JSON = st.recursive(
    SCALARS.filter(lambda v: not isinstance(v, int) or -(2**63) <= v < 2**64),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=16,
)


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`good` about nine times in ten: most inputs get past the first check to the next one."""
    # `bad` on the largest draw: Hypothesis favours (and shrinks to) the smallest.
    return st.integers(0, 9).flatmap(lambda n: bad if n == 9 else good)


def rarely(draw: st.DrawFn, one_in: int = 10) -> bool:
    return draw(st.integers(0, one_in - 1)) == one_in - 1


FIELDS = mostly(
    st.sampled_from([*LOG_FIELDS, "metadata.customer_id", "metadata.environment"]),
    st.sampled_from(["metadata.", "metadata.\x00", "nope", ""])
    | st.text(max_size=10).map(lambda key: f"metadata.{key}"),
)
OPERATOR_NAMES = mostly(st.sampled_from([*OPERATORS, "eq", "not_in"]), JSON | st.just("LIKE"))
# Values of each field's type (core/store/base.py), near the records' own where it matters.
TYPED = {
    int: st.integers(SEED_FROM - 10**7, SEED_TO + 10**7) | st.integers(-(2**63), 2**63),
    float: st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53),
    str: st.sampled_from(
        ["success", "error", "mock-main/echo", "user:alice@example.com", "team:red", "staging"]
    )
    | st.sampled_from(["%", "_", "\\", "'", '"', "\x00", "%_%", "[a]"])
    | TEXT,
    bool: st.booleans(),
}


FIELD_JUNK = JSON | st.sampled_from([[], ["x"] * 1_001])  # IN takes 1 to 1,000 values


@st.composite
def conditions(draw: st.DrawFn, field: str) -> Any:
    typed = TYPED[LOG_FIELDS.get(field, str)]
    condition: dict[str, Any] = {}
    if draw(st.booleans()):
        condition["key"] = draw(mostly(st.just(field), JSON))
    operator = draw(OPERATOR_NAMES)
    if not rarely(draw, 5):
        condition["operator"] = operator
    if not rarely(draw, 20):
        many = isinstance(operator, str) and operator.upper() in ("IN", "NOT_IN")
        condition["value"] = draw(
            mostly(st.lists(typed, min_size=1, max_size=4) if many else typed, FIELD_JUNK)
        )
    if rarely(draw, 30):
        condition[draw(TEXT)] = draw(JSON)
    return condition


@st.composite
def filters(draw: st.DrawFn) -> Any:
    """A `filter` object, mostly well formed, so that core's checks are reached."""
    if rarely(draw, 20):
        return draw(JSON)
    chosen: dict[str, Any] = {}
    for field in draw(st.lists(FIELDS, max_size=4)):
        listed = draw(st.lists(conditions(field), min_size=1, max_size=3))
        chosen[field] = listed[0] if rarely(draw, 5) else listed
    return chosen


SORTS = mostly(
    st.lists(
        st.fixed_dictionaries(
            {"key": FIELDS},
            optional={"order": mostly(st.sampled_from(["ASC", "DESC", "desc"]), JSON)},
        ),
        max_size=6,
    ),
    JSON,
)
LOG_BODIES = mostly(
    st.fixed_dictionaries(
        {},
        optional={
            "filter": filters(),
            "sort": SORTS,
            "limit": mostly(st.integers(-5, 1_200), JSON),
            "offset": mostly(st.integers(-5, 200), st.integers() | JSON),
        },
    ),
    st.dictionaries(TEXT, JSON, max_size=3),
)
METRICS_BODIES = mostly(
    st.fixed_dictionaries(
        {"start_time": mostly(st.integers(SEED_FROM - 10**10, SEED_TO), st.integers() | JSON)},
        optional={
            "end_time": mostly(st.integers(SEED_FROM, SEED_TO + 10**10), st.integers() | JSON),
            "filter": filters(),
            "group_by": mostly(
                st.lists(FIELDS | st.sampled_from(["team", "stream"]), max_size=5), JSON
            ),
            "interval": mostly(
                st.sampled_from(["minute", "hour", "day", "week", "month", "auto"]),
                JSON | st.just("year"),
            ),
            "limit": mostly(st.integers(-1, 1_100), JSON),
            "percentiles": mostly(st.booleans(), JSON),
        },
    ),
    st.dictionaries(TEXT, JSON, max_size=3),
)


BAD_ENTRIES = st.one_of(
    st.tuples(st.just(""), TEXT),
    st.tuples(st.text(min_size=MAX_KEY_CHARS + 1, max_size=MAX_KEY_CHARS + 3), TEXT),
    st.tuples(st.sampled_from(["a\nb", "\x00", "tab\t", "\x85"]), TEXT),
    st.tuples(st.text(min_size=1, max_size=5), WIRE_JSON.filter(lambda v: not isinstance(v, str))),
    st.tuples(st.text(min_size=1, max_size=5), st.text(min_size=MAX_VALUE_CHARS + 1)),
    st.tuples(st.text(min_size=1, max_size=5), st.just("nul\x00")),
)
VALID_METADATA = st.dictionaries(
    st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cf", "Zl", "Zp", "Cs"])).filter(
        valid_key
    ),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=MAX_VALUE_CHARS),
    max_size=MAX_KEYS,
)


# --- X-TFY-METADATA --------------------------------------------------------------------------


def outcome(call: Callable[[], T], *errors: type[Exception]) -> tuple[T | None, Any]:
    """What `call` returns, or which of `errors` it raised; any other exception fails the test."""
    try:
        return call(), None
    except errors as error:
        return None, error


def assert_metadata_or_400(raw: str | bytes) -> dict[str, str] | None:
    """The header's metadata, within every limit, or None for core's 400 naming the header."""
    metadata, error = outcome(lambda: parse_metadata(raw), InvalidMetadata)
    event("metadata: 400" if metadata is None else "metadata: parsed")
    if metadata is None:
        assert error.param == HEADER
        assert str(error)
        return None
    assert len(metadata) <= MAX_KEYS
    for key, value in metadata.items():
        assert valid_key(key)
        assert isinstance(value, str)
        assert len(value) <= MAX_VALUE_CHARS
        assert "\x00" not in value
    return metadata


@PROPERTY
@given(raw=st.binary(max_size=200) | TEXT | (WIRE_JSON | VALID_METADATA).map(orjson.dumps))
@example(raw=b'{"a":"b","a":"c"}')
@example(raw=b'{"\\ud800":"x"}')
@example(raw=b"\xff\xfe{}")
@example(raw=b'{"a":' * 600 + b"1" + b"}" * 600)
def test_any_header_text_is_metadata_or_a_400(raw: str | bytes) -> None:
    assert_metadata_or_400(raw)


@PROPERTY
@given(metadata=VALID_METADATA, bad=st.none() | BAD_ENTRIES)
def test_metadata_objects_round_trip_or_name_the_bad_key(
    metadata: dict[str, str], bad: tuple[str, Any] | None
) -> None:
    if bad is None:
        assert parse_metadata(orjson.dumps(metadata)) == metadata
        return
    key, value = bad
    sent = {k: v for k, v in list(metadata.items())[: MAX_KEYS - 1] if k != key}
    sent[key] = value
    with pytest.raises(InvalidMetadata) as caught:
        parse_metadata(orjson.dumps(sent))
    message = str(caught.value)
    assert ("must not be empty" in message) if not key else (repr(key[:40])[:-1] in message)


# Header values as HTTP delivers them: no CR, LF or NUL, no spaces at either end (the server
# strips them), any other byte (latin-1 text once Starlette decodes it).
HEADER_BYTES = st.binary(max_size=120).filter(
    lambda raw: not set(raw) & {0, 10, 13} and raw == raw.strip(b" \t")
) | (WIRE_JSON | VALID_METADATA).map(orjson.dumps)


@PROPERTY
@given(raw=HEADER_BYTES)
@example(raw=b"\x1c")  # was no metadata as gRPC text, a 400 as bytes (str.strip strips it)
@example(raw=b" \t{}\t ")
def test_the_facade_forwards_the_header_bytes_and_core_parses_them(raw: bytes) -> None:
    headers = [(b"authorization", b"Bearer sk-x"), (b"x-tfy-metadata", raw)]
    request = Request({"type": "http", "method": "POST", "path": "/", "headers": headers})
    forwarded = caller_context(request).metadata_json
    assert forwarded == (raw or None)
    # Over the in-process transport, and over gRPC as binary or (when it is ASCII) text.
    expected = assert_metadata_or_400(raw)
    for key in (CALL_METADATA_BIN_KEY, *([CALL_METADATA_KEY] * raw.isascii())):
        value: str | bytes = raw if key == CALL_METADATA_BIN_KEY else raw.decode("ascii")
        parsed, _ = outcome(partial(from_call, {}, [(key, value)]), InvalidMetadata)
        assert parsed == expected


@FEWER
@given(typed=st.dictionaries(TEXT, TEXT, max_size=70))
def test_typed_grpc_metadata_is_checked_the_same_way(typed: dict[str, str]) -> None:
    # The typed field wins over call metadata whenever it is set.
    call_metadata = [(CALL_METADATA_KEY, '{"from_call":"x"}')]
    metadata, error = outcome(lambda: from_call(typed, call_metadata), InvalidMetadata)
    if metadata is None:
        assert typed
        assert error.param.startswith("metadata")
    else:
        assert metadata == (typed or {"from_call": "x"})


# --- Log filters and queries -----------------------------------------------------------------


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    running = asyncio.new_event_loop()
    yield running
    running.close()


@pytest.fixture(scope="module")
def store(
    loop: asyncio.AbstractEventLoop, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SqliteStore]:
    """A SQLite store holding the log API tests' varied records (metadata, errors, teams)."""
    opened = SqliteStore(tmp_path_factory.mktemp("fuzz-inputs") / "gateway.db")
    loop.run_until_complete(opened.open())
    loop.run_until_complete(opened.insert_logs(RECORDS))
    yield opened
    loop.run_until_complete(opened.close())


@PROPERTY
@given(raw=filters())
def test_any_filter_is_conditions_or_a_400_naming_where(raw: Any) -> None:
    request = log_service_pb2.ListLogsRequest()
    paths: list[str] = []
    _, refused = outcome(lambda: read_filters(raw, request.filters, paths), CodecError)
    if refused is not None:
        event("filter: refused by the facade")
        assert refused.param.startswith("filter")
        return
    assert len(paths) == len(request.filters)
    checked, error = outcome(lambda: check_field_filters(request.filters), InvalidRequest)
    event("filter: refused by core" if checked is None else "filter: checked")
    if checked is None:
        # Core names a condition (`filters[i]...`) the body holds, or the list as a whole.
        where = filter_param(error.param, paths)
        assert where is not None or error.param == "filters", error.param
        assert where is None or where.startswith("filter.")


def assert_body_param(param: str | None) -> None:
    """A 400's `param` names the caller's JSON, not core's request message."""
    if param is not None:
        assert not param.startswith(("filters[", "sort_fields[", "page_size")), param


@PROPERTY
@given(body=LOG_BODIES)
@example(body={"filter": {"metadata.a'b\"c$.[0]": {"value": "x"}}})
@example(body={"filter": {"model": {"value": "%_\\", "operator": "CONTAINS"}}})
@example(body={"filter": {"created_at": {"value": 2**53 + 1, "operator": "GT"}}})
@example(body={"sort": [{"key": "metadata.x"}, {"key": "cost", "order": "desc"}], "offset": 999})
def test_any_log_query_body_is_a_page_or_a_400(
    body: dict[str, Any], store: SqliteStore, loop: asyncio.AbstractEventLoop
) -> None:
    parsed, _ = outcome(lambda: list_request_from_json(body), CodecError)
    if parsed is None:
        event("log query: refused by the facade")
        return
    query, error = outcome(
        lambda: query_from_request(parsed.request, None, PageBounds()), InvalidRequest
    )
    if query is None:
        event("log query: refused by core")
        assert_body_param(json_param(error.param, parsed))
        return
    page = loop.run_until_complete(store.query_logs(query))
    event(f"log query: {'records' if page.records else 'no record'} found")
    assert isinstance(page, LogPage)
    assert len(page.records) <= query.limit


@PROPERTY
@given(body=METRICS_BODIES)
def test_any_metrics_query_body_is_a_query_or_a_400(body: dict[str, Any]) -> None:
    parsed, _ = outcome(lambda: query_from_json(body), CodecError)
    if parsed is None:
        event("metrics query: refused by the facade")
        return
    query, error = outcome(
        lambda: metrics_query_from_request(parsed.request, None, SEED_TO), InvalidRequest
    )
    event("metrics query: refused by core" if query is None else "metrics query: checked")
    if query is None:
        assert_body_param(metrics_json_param(error.param, parsed))


# --- The YAML config loader ------------------------------------------------------------------

VALID_CONFIG = """
name: mock-main
type: provider-account
provider: mock
models:
  - name: echo
    price: {input_per_million: 0.15, output_per_million: 0.60}
  - name: embed
    kind: embedding
mock: {latency_ms: 0}
---
name: mock-slow
type: provider-account
provider: mock
models: [{name: echo}]
---
name: keys
type: gateway-api-keys
keys:
  - {id: ci, subject: 'virtualaccount:ci', sha256: '%s'}
---
name: metrics
type: gateway-metrics-config
metadata_keys: [customer_id, {key: environment, with: [model]}]
raw_window_hours: 24
prometheus: {user_label: false, metadata_labels: [customer_id], max_label_values: 100}
---
name: load-balancing
type: gateway-load-balancing-config
rules:
  - id: smart
    type: weight-based-routing
    when: {models: [mock-smart], metadata: {env: dev}}
    load_balance_targets:
      - target: mock-main/echo
        weight: 80
        retry_config: {attempts: 2, delay: 100, on_status_codes: ['429', '503']}
        override_params: {temperature: 0.2}
      - target: mock-slow/echo
        weight: 20
        failure_tolerance: {allowed_failures_per_minute: 5, cooldown_period_minutes: 1}
---
name: fallbacks
type: gateway-fallback-config
rules:
  - id: echo-to-slow
    when: {models: [mock-main/echo], response_status_codes: ['429', '500']}
    fallback_models: [{target: mock-slow/echo}]
---
name: rate-limits
type: gateway-rate-limiting-config
rules:
  - id: per-user
    when: {models: [mock-smart]}
    limit_to: 60
    unit: requests_per_minute
    rate_limit_applies_per: [user, metadata.customer_id]
---
name: budgets
type: gateway-budget-config
rules:
  - id: research-daily
    when: {subjects: ['team:research']}
    limit_to: 10
    unit: cost_per_day
    budget_applies_per: [user]
    audit_mode: true
""" % ("0" * 64)
VALID_DOCUMENTS = [d for d in yaml.safe_load_all(VALID_CONFIG) if d is not None]


def _leaves(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [leaf for value in node.values() for leaf in _leaves(value)]
    if isinstance(node, list):
        return [leaf for value in node for leaf in _leaves(value)]
    return [node]


# Values the valid config holds anywhere: put elsewhere they are plausible, and often wrong.
LEAVES = st.sampled_from(
    sorted({repr(v): v for d in VALID_DOCUMENTS for v in _leaves(d)}.values(), key=repr)
)
WORDS = st.sampled_from(
    sorted(
        {
            word
            for document in VALID_DOCUMENTS
            for word in yaml.safe_dump(document).replace(":", " ").replace("-", " ").split()
        }
    )
)


def assert_config_or_error(text: str) -> None:
    config, error = outcome(lambda: parse_config(text, source="fuzz.yaml"), ConfigError)
    event("config: ConfigError" if config is None else "config: loaded")
    if config is None:
        assert str(error).startswith("fuzz.yaml: "), str(error)
    else:
        assert isinstance(config, GatewayConfig)


YAML_SYMBOLS = st.sampled_from(
    [": ", "- ", "\n", "  ", "[", "]", "{", "}", ", ", "&a ", "*a", "!!binary ", "---\n", "'", '"']
)
YAML_TEXT = st.lists(WORDS | YAML_SYMBOLS | TEXT, max_size=60).map("".join)


@PROPERTY
@given(text=st.text(max_size=300) | YAML_TEXT)
@example(text="[" * 5000 + "]" * 5000)
@example(text="a: " + "{a: " * 3000 + "1" + "}" * 3000)
@example(text="- " * 3000 + "x")
@example(text="name: &a [*a]\ntype: provider-account")
@example(text="&a {name: x, type: provider-account, provider: mock, models: *a}")
def test_any_text_is_a_config_or_a_config_error(text: str) -> None:
    assert_config_or_error(text)


def _mutated(draw: st.DrawFn, node: Any) -> Any:
    """`node` with one change somewhere: a value replaced, a key dropped or added."""
    if isinstance(node, dict) and node and not rarely(draw, 4):
        key = draw(st.sampled_from(sorted(node, key=str)))
        changed = dict(node)
        if rarely(draw, 6):
            del changed[key]
        elif rarely(draw, 5):
            changed[draw(WORDS | TEXT)] = draw(JSON)
        else:
            changed[key] = _mutated(draw, node[key])
        return changed
    if isinstance(node, list) and node and not rarely(draw, 4):
        index = draw(st.integers(0, len(node) - 1))
        changed_list = list(node)
        changed_list[index] = _mutated(draw, node[index])
        return changed_list
    return draw(mostly(LEAVES | WORDS, JSON | st.just([]) | st.just({})))


@st.composite
def mutated_configs(draw: st.DrawFn) -> str:
    documents = list(VALID_DOCUMENTS)
    for _ in range(draw(mostly(st.just(1), st.integers(2, 3)))):
        index = draw(st.integers(0, len(documents) - 1))
        documents[index] = _mutated(draw, documents[index])
    return yaml.safe_dump_all(documents, allow_unicode=True)


@FEWER
@given(text=mutated_configs())
def test_a_valid_config_changed_anywhere_is_a_config_or_a_config_error(text: str) -> None:
    assert_config_or_error(text)


def test_the_config_the_mutations_start_from_is_valid() -> None:
    config = parse_config(VALID_CONFIG)
    assert [a.name for a in config.accounts] == ["mock-main", "mock-slow"]


def test_yaml_nested_deeper_than_python_recurses_is_a_config_error() -> None:
    # Found by the fuzzing: PyYAML builds nested collections recursively, and a RecursionError
    # used to escape parse_config, so `llm-gateway serve` died with a traceback.
    # (pytest-timeout bounds it; a wall-clock assertion here failed on a busy machine.)
    with pytest.raises(ConfigError, match="nested too deeply"):
        parse_config("models: " + "[" * 5000 + "]" * 5000, source="deep.yaml")


def test_a_config_file_nested_too_deeply_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text("- " * 4000 + "x\n")
    with pytest.raises(ConfigError, match=f"{path}: invalid YAML: collections nested too deeply"):
        load_config(path)
