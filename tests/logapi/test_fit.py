"""Log entries are cut to fit one gRPC message: largest bodies first, visibly, still JSON."""

from __future__ import annotations

import orjson
import pytest

from core.logs.fit import ENVELOPE_BYTES, fit_entries, shortened
from gateway.v1 import log_pb2, log_service_pb2

LIMIT = 64 * 1024


def _entry(entry_id: str, request: str = "", response: str = "") -> log_pb2.LogEntry:
    return log_pb2.LogEntry(
        id=entry_id, model="mock-main/echo", request_json=request, response_json=response
    )


def _body(size: int, char: str = "a") -> str:
    return orjson.dumps({"messages": [{"role": "user", "content": char * size}]}).decode()


def _page_bytes(entries: list[log_pb2.LogEntry]) -> int:
    return log_service_pb2.ListLogsResponse(
        log_entries=entries, next_page_token="x" * 20, total_size=10**9, page_size=1000
    ).ByteSize()


def test_a_page_within_the_limit_is_untouched() -> None:
    entries = [_entry("a", _body(1000), _body(1000)), _entry("b", _body(10))]
    before = [e.SerializeToString() for e in entries]
    fit_entries(entries, LIMIT)
    assert [e.SerializeToString() for e in entries] == before
    assert not any(e.bodies_truncated for e in entries)


def test_the_largest_bodies_are_cut_and_small_ones_kept_whole() -> None:
    small = _body(100)
    entries = [
        _entry("big", _body(3 * LIMIT), _body(2 * LIMIT)),
        _entry("small", small, small),
        _entry("none"),
    ]
    fit_entries(entries, LIMIT)
    big, kept, empty = entries
    assert _page_bytes(entries) <= LIMIT
    assert big.bodies_truncated
    for text in (big.request_json, big.response_json):
        prefix = orjson.loads(text)  # still JSON: a string holding the start of the body
        assert isinstance(prefix, str)
        assert prefix.startswith('{"messages":[{"role":"user","content":"aaa')
    # Cut to about the same size, using the room the small entry left.
    assert len(big.request_json) == pytest.approx(len(big.response_json), abs=2)
    assert len(big.request_json) > (LIMIT - ENVELOPE_BYTES) / 2 - 2 * len(small) - 200
    assert (kept.request_json, kept.response_json, kept.bodies_truncated) == (small, small, False)
    assert (empty.request_json, empty.bodies_truncated) == ("", False)


def test_a_single_entry_over_the_limit_fits_alone() -> None:
    (entry,) = entries = [_entry("one", _body(5 * LIMIT, "é"))]
    fit_entries(entries, LIMIT)
    assert entry.bodies_truncated
    assert entry.ByteSize() <= LIMIT - ENVELOPE_BYTES
    assert orjson.loads(entry.request_json).startswith('{"messages"')


def test_many_entries_share_the_room() -> None:
    entries = [_entry(f"e{i}", _body(LIMIT // 10), _body(LIMIT // 10)) for i in range(10)]
    fit_entries(entries, LIMIT)
    assert _page_bytes(entries) <= LIMIT
    assert all(e.bodies_truncated for e in entries)


@pytest.mark.parametrize(
    ("text", "max_bytes"),
    [
        ('{"a": "' + '\\"' * 500 + '"}', 100),  # escapes double the size
        ("é" * 500, 101),  # never half of a two-byte character
        ('{"a": 1}', 1),  # no room at all: the empty string
        ("\n" * 50, 10),
    ],
)
def test_shortened_is_a_json_string_within_max_bytes(text: str, max_bytes: int) -> None:
    literal = shortened(text, max_bytes)
    assert len(literal.encode()) <= max(max_bytes, 2)
    prefix = orjson.loads(literal)
    assert isinstance(prefix, str)
    assert text.startswith(prefix)
