"""LogQuery -> one MongoDB filter document and a sort specification (pure functions).

The semantics are those listed in sqlite_query.py; most are MongoDB's own: a condition on
an array (`teams`) holds when any element satisfies it, `$ne` / `$nin` match a missing
field or null, comparisons never match null, null sorts first ascending.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from core.metadata import FIELD_PREFIX
from core.store.base import LogFilter, LogQuery, LogScope, LogSort

# LOG_FIELDS names that differ from the document's field path; the others are the same.
PATHS = {"id": "_id", "user": "subject", "team": "teams"}
_OPERATORS = {
    "EQ": "$eq",
    "NEQ": "$ne",
    "LT": "$lt",
    "LTE": "$lte",
    "GT": "$gt",
    "GTE": "$gte",
    "IN": "$in",
    "NOT_IN": "$nin",
}
_ORDERING = frozenset({"LT", "LTE", "GT", "GTE"})

Document = dict[str, Any]


def field_path(field: str) -> str:
    """The document path of a LOG_FIELDS name or `metadata.<key>`."""
    if field.startswith(FIELD_PREFIX):
        return field
    return PATHS.get(field, field)


def condition(operator: str, value: Any) -> Document:
    """The operator document for one filter, e.g. {"$gte": 5}."""
    if operator == "CONTAINS":
        # re.escape leaves only literals, which PCRE reads the same way Python does.
        return {"$regex": re.escape(str(value)), "$options": "i"}
    if operator in ("IN", "NOT_IN"):
        return {_OPERATORS[operator]: list(value)}
    return {_OPERATORS[operator]: value}


def filter_document(f: LogFilter) -> Document:
    if f.field == "model" and f.operator not in _ORDERING:
        # Requested OR resolved for the positive operators, NEITHER for NEQ / NOT_IN.
        cond = condition(f.operator, f.value)
        either = [{"model": cond}, {"resolved_model": cond}]
        return {"$and": either} if f.operator in ("NEQ", "NOT_IN") else {"$or": either}
    return {field_path(f.field): condition(f.operator, f.value)}


def scope_document(scope: LogScope) -> Document:
    """Visible when the subject is in scope.subjects OR any team is in scope.teams."""
    return {
        "$or": [
            {"subject": {"$in": list(scope.subjects)}},
            {"teams": {"$in": list(scope.teams)}},
        ]
    }


def query_filter(query: LogQuery) -> Document:
    """All filters ANDed, with the scope; {} matches everything."""
    parts = [filter_document(f) for f in query.filters]
    if query.scope is not None:
        parts.append(scope_document(query.scope))
    if not parts:
        return {}
    return parts[0] if len(parts) == 1 else {"$and": parts}


def sort_spec(sort: Sequence[LogSort]) -> list[tuple[str, int]]:
    """The given keys, then `_id` in the first key's direction, so paging is stable."""
    keys = list(sort) or [LogSort("created_at")]
    if all(k.field != "id" for k in keys):
        keys.append(LogSort("id", keys[0].descending))
    return [(field_path(k.field), -1 if k.descending else 1) for k in keys]
