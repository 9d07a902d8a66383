"""Log filters and scopes tested against the dimension values of a rollup row.

The semantics are the stores' (core/store/sqlite_query.py lists them), so that a query
answered from rollups matches exactly the records a raw scan would: `model` is the requested
OR the resolved model (NEITHER for NEQ / NOT_IN), `team` holds when any of the record's teams
does (NEQ / NOT_IN: none of them), a missing metadata key matches only NEQ and NOT_IN, and
CONTAINS is a case-insensitive substring test. tests/contract/test_metrics.py proves it
against both stores.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core.store.base import LogFilter, LogScope

Values = Mapping[str, Any]
"""A row's dimension values by field name (`team` is a tuple of teams)."""

_NEGATIVE = frozenset({"NEQ", "NOT_IN"})


def needed_fields(f: LogFilter) -> tuple[str, ...]:
    """The dimensions a filter reads."""
    if f.field == "model" and f.operator not in ("LT", "LTE", "GT", "GTE"):
        return ("model", "resolved_model")
    return (f.field,)


def scope_fields(scope: LogScope | None) -> tuple[str, ...]:
    """The dimensions a scope reads."""
    if scope is None:
        return ()
    return ("user", "team") if scope.teams else ("user",)


def _holds(operator: str, value: Any, target: Any) -> bool:
    """`value operator target` for one value; None only satisfies NEQ and NOT_IN."""
    if value is None:
        return operator in _NEGATIVE
    if operator == "EQ":
        return bool(value == target)
    if operator == "NEQ":
        return bool(value != target)
    if operator == "IN":
        return value in target
    if operator == "NOT_IN":
        return value not in target
    if operator == "CONTAINS":
        return str(target).lower() in str(value).lower()
    return bool(_ORDERINGS[operator](value, target))


_ORDERINGS: Mapping[str, Callable[[Any, Any], Any]] = {
    "LT": lambda a, b: a < b,
    "LTE": lambda a, b: a <= b,
    "GT": lambda a, b: a > b,
    "GTE": lambda a, b: a >= b,
}


def matches(f: LogFilter, values: Values) -> bool:
    """Whether a row with these values passes the filter."""
    op, target = f.operator, f.value
    if f.field == "model" and op not in _ORDERINGS:
        either = (_holds(op, values["model"], target), _holds(op, values["resolved_model"], target))
        return all(either) if op in _NEGATIVE else any(either)
    value = values[f.field]
    if f.field == "team":
        if op in _NEGATIVE:
            return all(_holds(op, team, target) for team in value)
        return any(_holds(op, team, target) for team in value)
    return _holds(op, value, target)


def visible(scope: LogScope | None, values: Values) -> bool:
    """Whether the scope sees a row: its subject is in scope, or one of its teams is."""
    if scope is None:
        return True
    if values["user"] in scope.subjects:
        return True
    return bool(scope.teams) and any(team in scope.teams for team in values["team"])
