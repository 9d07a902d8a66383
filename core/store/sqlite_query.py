"""LogQuery -> SQL for the SQLite store.

Values only ever travel as bound parameters; column names come only from the whitelist
below, so a field name can never inject SQL.

Semantics shared with the MongoDB store (mongo_query.py), proven by tests/contract/:
- `model` matches the requested OR the resolved model for EQ / IN / CONTAINS and NEITHER
  for NEQ / NOT_IN; LT..GTE compare the requested model.
- `team`: EQ = value among the record's teams, NEQ = not among them, IN = any overlap,
  NOT_IN = no overlap; CONTAINS and LT..GTE hold when any team satisfies them.
- `metadata.<key>`: string values; NEQ and NOT_IN also match records without the key.
- CONTAINS: case-insensitive substring of a string field, wildcards taken literally.
- None (ttft_ms): EQ and LT..GTE never match it, NEQ and NOT_IN do; sorting puts None first
  ascending and last descending.
- Sort: the given keys, then `id` in the first key's direction; `created_at` DESC default.
- Scope: a record is visible if its subject is in scope.subjects OR any of its teams is in
  scope.teams (an empty scope sees nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.store.base import LogFilter, LogQuery, LogScope, LogSort

# LOG_FIELDS name -> column of `logs`. `team` and `metadata.<key>` live in side tables.
COLUMNS = {
    "id": "id",
    "created_at": "created_at",
    "model": "model",
    "resolved_model": "resolved_model",
    "provider_account": "provider_account",
    "user": "subject",
    "key_id": "key_id",
    "status": "status",
    "http_status": "http_status",
    "error_code": "error_code",
    "stream": "stream",
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "total_tokens": "total_tokens",
    "cost": "cost",
    "latency_ms": "latency_ms",
    "ttft_ms": "ttft_ms",
}

METADATA_PREFIX = "metadata."
_COMPARISONS = {"LT": "<", "LTE": "<=", "GT": ">", "GTE": ">="}
# Operators whose side-table subquery selects the records that match (the others select
# the records to exclude).
_POSITIVE = frozenset({"EQ", "IN", "CONTAINS", "LT", "LTE", "GT", "GTE"})


def escape_like(text: str) -> str:
    """`%text%` for `LIKE ? ESCAPE '\\'`, with LIKE's own wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _placeholders(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def _contains(column: str, needle: str, params: list[Any]) -> str:
    # SQLite's LIKE folds ASCII letters only; a non-ASCII needle goes to a Python function
    # (registered by the store) so that "É" finds "é" as MongoDB's $options "i" does.
    if needle.isascii():
        params.append(escape_like(needle))
        return f"{column} LIKE ? ESCAPE '\\'"
    params.append(needle)
    return f"gw_icontains({column}, ?)"


def _condition(column: str, op: str, value: Any, params: list[Any]) -> str:
    """`column op value` where None never compares and NEQ / NOT_IN match None."""
    if op == "EQ":
        params.append(value)
        return f"{column} = ?"
    if op == "NEQ":
        params.append(value)
        return f"{column} IS NOT ?"
    if op in _COMPARISONS:
        params.append(value)
        return f"{column} {_COMPARISONS[op]} ?"
    if op == "IN":
        if not value:
            return "0"
        params.extend(value)
        return f"{column} IN ({_placeholders(value)})"
    if op == "NOT_IN":
        if not value:
            return "1"
        params.extend(value)
        return f"({column} IS NULL OR {column} NOT IN ({_placeholders(value)}))"
    if op == "CONTAINS":
        return _contains(column, str(value), params)
    raise ValueError(f"unknown operator {op!r}")


def _positive_op(op: str) -> str:
    return {"NEQ": "EQ", "NOT_IN": "IN"}.get(op, op)


def _time_bounds(filters: Sequence[LogFilter], params: list[Any]) -> str:
    """The query's created_at conditions, repeated inside side-table subqueries so their
    (key, value, created_at) index scans only the queried time range."""
    parts = []
    for f in filters:
        if f.field == "created_at" and (f.operator == "EQ" or f.operator in _COMPARISONS):
            parts.append(" AND " + _condition("created_at", f.operator, f.value, params))
    return "".join(parts)


def _side_table(f: LogFilter, filters: Sequence[LogFilter], params: list[Any]) -> str:
    """A team or metadata filter: membership of the record in a side-table subquery.

    Negative operators (NEQ, NOT_IN) exclude the records having a matching row, so they also
    match records with no row at all: no team, or no such metadata key.
    """
    op = _positive_op(f.operator)
    if f.field == "team":
        table, column, key_sql = "log_teams", "team", ""
    else:
        table, column, key_sql = "log_metadata", "value", "key = ? AND "
        params.append(f.field[len(METADATA_PREFIX) :])
    cond = _condition(column, op, f.value, params)
    bounds = _time_bounds(filters, params)
    membership = "IN" if f.operator in _POSITIVE else "NOT IN"
    return f"pk {membership} (SELECT log_id FROM {table} WHERE {key_sql}{cond}{bounds})"


def _model(op: str, value: Any, params: list[Any]) -> str:
    """Requested OR resolved model for EQ/IN/CONTAINS, NEITHER for NEQ/NOT_IN, requested for
    the ordering operators."""
    if op in _COMPARISONS:
        return _condition("model", op, value, params)
    joiner = " AND " if op in ("NEQ", "NOT_IN") else " OR "
    left = _condition("model", op, value, params)
    right = _condition("resolved_model", op, value, params)
    return f"({left}{joiner}{right})"


def filter_sql(f: LogFilter, filters: Sequence[LogFilter], params: list[Any]) -> str:
    if f.field == "model":
        return _model(f.operator, f.value, params)
    if f.field == "team" or f.field.startswith(METADATA_PREFIX):
        return _side_table(f, filters, params)
    return _condition(COLUMNS[f.field], f.operator, f.value, params)


def scope_sql(scope: LogScope, params: list[Any]) -> str:
    """Visible when the subject is in scope.subjects OR any team is in scope.teams."""
    parts = []
    if scope.subjects:
        params.extend(scope.subjects)
        parts.append(f"subject IN ({_placeholders(scope.subjects)})")
    if scope.teams:
        params.extend(scope.teams)
        parts.append(
            f"pk IN (SELECT log_id FROM log_teams WHERE team IN ({_placeholders(scope.teams)}))"
        )
    return "(" + " OR ".join(parts) + ")" if parts else "0"


def where_sql(query: LogQuery) -> tuple[str, list[Any]]:
    params: list[Any] = []
    parts = [filter_sql(f, query.filters, params) for f in query.filters]
    if query.scope is not None:
        parts.append(scope_sql(query.scope, params))
    return (" WHERE " + " AND ".join(parts) if parts else ""), params


def _sort_expr(field: str, descending: bool, params: list[Any]) -> str:
    # Sorting on teams or metadata reads each record's own JSON: the side tables are indexed
    # for filtering by value, not for looking up one record's values.
    if field == "team":
        # MongoDB sorts an array by its smallest element ascending, its largest descending.
        agg = "max" if descending else "min"
        return f"(SELECT {agg}(value) FROM json_each(teams))"
    if field.startswith(METADATA_PREFIX):
        params.append(field[len(METADATA_PREFIX) :])
        return "(SELECT value FROM json_each(metadata) WHERE key = ?)"
    return COLUMNS[field]


def order_sql(sort: Sequence[LogSort]) -> tuple[str, list[Any]]:
    """The given keys, then `id` in the first key's direction, so paging is stable.

    SQLite, like MongoDB, puts NULL first ascending and last descending.
    """
    keys = list(sort) or [LogSort("created_at")]
    if all(k.field != "id" for k in keys):
        keys.append(LogSort("id", keys[0].descending))
    params: list[Any] = []
    parts = [
        f"{_sort_expr(k.field, k.descending, params)} {'DESC' if k.descending else 'ASC'}"
        for k in keys
    ]
    return " ORDER BY " + ", ".join(parts), params
