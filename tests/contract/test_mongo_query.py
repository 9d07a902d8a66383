"""LogQuery -> MongoDB filter and sort: the pure translation, checked document by document."""

from __future__ import annotations

import re

import pytest
from pymongo.errors import BulkWriteError

from core.store.base import LogFilter, LogQuery, LogScope, LogSort
from core.store.mongo import only_duplicates
from core.store.mongo_query import filter_document, query_filter, sort_spec


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (LogFilter("created_at", "GTE", 5), {"created_at": {"$gte": 5}}),
        (LogFilter("created_at", "LT", 9), {"created_at": {"$lt": 9}}),
        (LogFilter("cost", "LTE", 0.5), {"cost": {"$lte": 0.5}}),
        (LogFilter("http_status", "GT", 499), {"http_status": {"$gt": 499}}),
        (LogFilter("status", "EQ", "error"), {"status": {"$eq": "error"}}),
        (LogFilter("ttft_ms", "NEQ", 3.0), {"ttft_ms": {"$ne": 3.0}}),
        (LogFilter("id", "IN", ("a", "b")), {"_id": {"$in": ["a", "b"]}}),
        (LogFilter("user", "NOT_IN", ["u"]), {"subject": {"$nin": ["u"]}}),
        (LogFilter("team", "EQ", "red"), {"teams": {"$eq": "red"}}),
        (LogFilter("team", "NOT_IN", ["red"]), {"teams": {"$nin": ["red"]}}),
        (LogFilter("metadata.customer_id", "NEQ", "1"), {"metadata.customer_id": {"$ne": "1"}}),
        (LogFilter("stream", "EQ", True), {"stream": {"$eq": True}}),
        (
            LogFilter("model", "EQ", "m"),
            {"$or": [{"model": {"$eq": "m"}}, {"resolved_model": {"$eq": "m"}}]},
        ),
        (
            LogFilter("model", "IN", ["m"]),
            {"$or": [{"model": {"$in": ["m"]}}, {"resolved_model": {"$in": ["m"]}}]},
        ),
        (
            LogFilter("model", "NEQ", "m"),
            {"$and": [{"model": {"$ne": "m"}}, {"resolved_model": {"$ne": "m"}}]},
        ),
        (
            LogFilter("model", "NOT_IN", ["m"]),
            {"$and": [{"model": {"$nin": ["m"]}}, {"resolved_model": {"$nin": ["m"]}}]},
        ),
        (LogFilter("model", "GT", "m"), {"model": {"$gt": "m"}}),
    ],
    ids=str,
)
def test_filter_document(flt: LogFilter, expected: dict[str, object]) -> None:
    assert filter_document(flt) == expected


def test_contains_is_an_escaped_case_insensitive_regex() -> None:
    doc = filter_document(LogFilter("user", "CONTAINS", "a.b*(c)[d]$^|+?\\"))
    cond = doc["subject"]
    assert cond["$options"] == "i"
    # Every metacharacter is escaped: the pattern only matches the literal text.
    assert re.fullmatch(cond["$regex"], "a.b*(c)[d]$^|+?\\")
    assert not re.search(cond["$regex"], "aXb*(c)[d]$^|+?\\")


def test_contains_on_model_looks_at_both_models() -> None:
    doc = filter_document(LogFilter("model", "CONTAINS", "gpt"))
    assert doc == {
        "$or": [
            {"model": {"$regex": "gpt", "$options": "i"}},
            {"resolved_model": {"$regex": "gpt", "$options": "i"}},
        ]
    }


def test_query_filter_ands_filters_and_scope() -> None:
    assert query_filter(LogQuery()) == {}
    one = LogFilter("status", "EQ", "error")
    assert query_filter(LogQuery(filters=(one,))) == {"status": {"$eq": "error"}}
    scope = LogScope(subjects=("user:a",), teams=("red",))
    query = LogQuery(filters=(one, LogFilter("created_at", "GTE", 1)), scope=scope)
    assert query_filter(query) == {
        "$and": [
            {"status": {"$eq": "error"}},
            {"created_at": {"$gte": 1}},
            {"$or": [{"subject": {"$in": ["user:a"]}}, {"teams": {"$in": ["red"]}}]},
        ]
    }


def test_an_empty_scope_matches_nothing() -> None:
    assert query_filter(LogQuery(scope=LogScope())) == {
        "$or": [{"subject": {"$in": []}}, {"teams": {"$in": []}}]
    }


def test_sort_appends_id_in_the_first_keys_direction() -> None:
    assert sort_spec((LogSort("created_at"),)) == [("created_at", -1), ("_id", -1)]
    assert sort_spec((LogSort("cost", descending=False), LogSort("user"))) == [
        ("cost", 1),
        ("subject", -1),
        ("_id", 1),
    ]
    assert sort_spec((LogSort("id", descending=False),)) == [("_id", 1)]
    assert sort_spec(()) == [("created_at", -1), ("_id", -1)]
    assert sort_spec((LogSort("team"), LogSort("metadata.app"))) == [
        ("teams", -1),
        ("metadata.app", -1),
        ("_id", -1),
    ]


def _bulk_error(*codes: int, concern: bool = False) -> BulkWriteError:
    errors = [{"index": i, "code": c, "errmsg": "x"} for i, c in enumerate(codes)]
    concern_errors = [{"code": 64, "errmsg": "waiting for replication timed out"}]
    return BulkWriteError(
        {"writeErrors": errors, "writeConcernErrors": concern_errors if concern else []}
    )


def test_only_duplicate_key_errors_count_as_success() -> None:
    assert only_duplicates(_bulk_error(11000, 11000))
    assert not only_duplicates(_bulk_error(11000, 121))  # a validation failure
    assert not only_duplicates(_bulk_error(11000, concern=True))
    assert not only_duplicates(_bulk_error())
