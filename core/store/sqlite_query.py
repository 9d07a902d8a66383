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

Each query has two SQL forms with the same meaning. The "driving" form (where_sql) lets
SQLite start from the most selective index: a team or metadata filter is `pk IN (subquery
over the side table)`. The "walking" form (where_sql(..., walk=True)) is for reading
`created_at` order off its index and testing each record in turn, stopping once the page is
full: side-table filters are then per-record probes (`EXISTS`), never a list built first.
The store picks the form per query (sqlite.py). The total has fast paths too (total_sql).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from core.metadata import FIELD_PREFIX
from core.store.base import RECORD_ATTRIBUTES, LogFilter, LogQuery, LogScope, LogSort
from core.store.sqlite_schema import EVERY, LOG_COLUMNS, SUBJECT
from core.usage.rollup import HOUR_MS, MINUTE_MS, ceil_to, floor_to

# LOG_FIELDS name -> column of `logs`. `team` and `metadata.<key>` live in side tables.
COLUMNS = RECORD_ATTRIBUTES

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


def _side_table(
    f: LogFilter, filters: Sequence[LogFilter], params: list[Any], walk: bool = False
) -> str:
    """A team or metadata filter: membership of the record in a side-table subquery.

    Negative operators (NEQ, NOT_IN) exclude the records having a matching row, so they also
    match records with no row at all: no team, or no such metadata key.
    """
    op = _positive_op(f.operator)
    if walk:
        found = _probe(f, op, params)
        return found if f.operator in _POSITIVE else f"NOT {found}"
    if f.field == "team":
        table, column, key_sql = "log_teams", "team", ""
    else:
        table, column, key_sql = "log_metadata", "value", "key = ? AND "
        params.append(f.field[len(FIELD_PREFIX) :])
    cond = _condition(column, op, f.value, params)
    bounds = _time_bounds(filters, params)
    membership = "IN" if f.operator in _POSITIVE else "NOT IN"
    return f"pk {membership} (SELECT log_id FROM {table} WHERE {key_sql}{cond}{bounds})"


def _probe(f: LogFilter, op: str, params: list[Any]) -> str:
    """Whether the current `logs` row has a side row satisfying `op` (a positive operator).

    EQ and IN look up whole side-table keys; other operators read the record's own JSON,
    the rows the side tables were made from.
    """
    team = f.field == "team"
    if op in ("EQ", "IN"):
        if team:
            table, cond = "log_teams s", _condition("s.team", op, f.value, params)
        else:
            params.append(f.field[len(FIELD_PREFIX) :])
            cond = "s.key = ? AND " + _condition("s.value", op, f.value, params)
            table = "log_metadata s"
        return (
            f"EXISTS (SELECT 1 FROM {table} WHERE {cond} "
            "AND s.created_at = logs.created_at AND s.log_id = logs.pk)"
        )
    if team:
        cond = _condition("j.value", op, f.value, params)
        return f"EXISTS (SELECT 1 FROM json_each(logs.teams) j WHERE {cond})"
    params.append(f.field[len(FIELD_PREFIX) :])
    cond = _condition("j.value", op, f.value, params)
    return f"EXISTS (SELECT 1 FROM json_each(logs.metadata) j WHERE j.key = ? AND {cond})"


# The resolved model is indexed only where it differs from the requested one (a fallback, or
# no provider reached): most records then cost one index entry less. EQ / IN on it are
# written so that the planner can use that partial index (its WHERE term appears) and the
# requested model's index for the rest.
_RESOLVED_DIFFERS = "resolved_model <> model"


def _model(op: str, value: Any, params: list[Any]) -> str:
    """Requested OR resolved model for EQ/IN/CONTAINS, NEITHER for NEQ/NOT_IN, requested for
    the ordering operators."""
    if op in _COMPARISONS:
        return _condition("model", op, value, params)
    left = _condition("model", op, value, params)
    right = _condition("resolved_model", op, value, params)
    if op in ("NEQ", "NOT_IN"):
        return f"({left} AND {right})"
    if op in ("EQ", "IN"):
        # Where the resolved model is the requested one, `left` already decides.
        return f"({left} OR ({right} AND {_RESOLVED_DIFFERS}))"
    return f"({left} OR {right})"


def _resolved_model(op: str, value: Any, params: list[Any]) -> str:
    if op not in ("EQ", "IN"):
        return _condition("resolved_model", op, value, params)
    differs = _condition("resolved_model", op, value, params)
    same = _condition("model", op, value, params)
    return f"(({differs} AND {_RESOLVED_DIFFERS}) OR ({same} AND resolved_model = model))"


def filter_sql(
    f: LogFilter, filters: Sequence[LogFilter], params: list[Any], walk: bool = False
) -> str:
    if f.field == "model":
        return _model(f.operator, f.value, params)
    if f.field == "resolved_model":
        return _resolved_model(f.operator, f.value, params)
    if f.field == "team" or f.field.startswith(FIELD_PREFIX):
        return _side_table(f, filters, params, walk)
    return _condition(COLUMNS[f.field], f.operator, f.value, params)


def scope_sql(
    scope: LogScope,
    params: list[Any],
    filters: Sequence[LogFilter] = (),
    walk: bool = False,
) -> str:
    """Visible when the subject is in scope.subjects OR any team is in scope.teams."""
    parts = []
    if scope.subjects:
        params.extend(scope.subjects)
        parts.append(f"subject IN ({_placeholders(scope.subjects)})")
    if scope.teams:
        params.extend(scope.teams)
        teams = f"team IN ({_placeholders(scope.teams)})"
        if walk:
            parts.append(
                f"EXISTS (SELECT 1 FROM log_teams s WHERE s.{teams} "
                "AND s.created_at = logs.created_at AND s.log_id = logs.pk)"
            )
        else:
            bounds = _time_bounds(filters, params)
            parts.append(f"pk IN (SELECT log_id FROM log_teams WHERE {teams}{bounds})")
    return "(" + " OR ".join(parts) + ")" if parts else "0"


def _where(parts: Sequence[str]) -> str:
    return " WHERE " + " AND ".join(parts) if parts else ""


def _conditions(query: LogQuery, params: list[Any], walk: bool) -> list[str]:
    parts = [
        filter_sql(f, query.filters, params, walk)
        for f in query.filters
        if not (walk and f.field == "created_at")
    ]
    if query.scope is not None:
        parts.append(scope_sql(query.scope, params, query.filters, walk))
    return parts


def where_sql(query: LogQuery, *, walk: bool = False) -> tuple[str, list[Any]]:
    """The WHERE clause of `query`: its driving form, or its walking form (module docstring),
    which leaves out the created_at filters: the walk states its own range (page_sql)."""
    params: list[Any] = []
    return _where(_conditions(query, params, walk)), params


def _sort_expr(field: str, descending: bool, params: list[Any]) -> str:
    # Sorting on teams or metadata reads each record's own JSON: the side tables are indexed
    # for filtering by value, not for looking up one record's values.
    if field == "team":
        # MongoDB sorts an array by its smallest element ascending, its largest descending.
        agg = "max" if descending else "min"
        return f"(SELECT {agg}(value) FROM json_each(teams))"
    if field.startswith(FIELD_PREFIX):
        params.append(field[len(FIELD_PREFIX) :])
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


# --- the total

# Time bounds beyond this are left to the generic count (no bucket arithmetic near int64's end).
_FAR = 2**62


def time_range(filters: Sequence[LogFilter]) -> tuple[int | None, int | None] | None:
    """The half-open [from, to) range of `created_at` the query's created_at filters allow
    (None = unbounded), or None when one of them is not a range (NEQ, IN, NOT_IN)."""
    low: int | None = None
    high: int | None = None
    for f in filters:
        if f.field != "created_at":
            continue
        value = f.value
        if f.operator not in ("EQ", *_COMPARISONS) or type(value) is not int:
            return None
        if not -_FAR < value < _FAR:
            return None
        if f.operator in ("EQ", "GTE", "GT"):
            start = value + 1 if f.operator == "GT" else value
            low = start if low is None else max(low, start)
        if f.operator in ("EQ", "LTE", "LT"):
            end = value if f.operator == "LT" else value + 1
            high = end if high is None else min(high, end)
    return low, high


def _subjects(query: LogQuery) -> tuple[bool, frozenset[str] | None]:
    """(whether the query limits nothing but created_at and the subject, and the subjects it
    allows: None = any)."""
    allowed: frozenset[str] | None = None
    for f in query.filters:
        if f.field == "created_at":
            continue
        if f.field != "user" or f.operator not in ("EQ", "IN"):
            return False, None
        values = frozenset(f.value if f.operator == "IN" else [f.value])
        allowed = values if allowed is None else allowed & values
    if query.scope is not None:
        if query.scope.teams:
            return False, None
        scoped = frozenset(query.scope.subjects)
        allowed = scoped if allowed is None else allowed & scoped
    return True, allowed


def _bucket_total(
    low: int | None, high: int | None, subjects: frozenset[str] | None
) -> tuple[str, list[Any]]:
    """The exact count of records in [low, high) (of the given subjects), from the count
    buckets: whole hours, then whole minutes, then only the partial minutes at each end are
    counted record by record, on the created_at or (subject, created_at) index."""
    parts: list[str] = []
    params: list[Any] = []
    if subjects is None:
        dimension, dimension_params = f"dimension = '{EVERY}' AND value = ''", []
        edge, edge_params = "", []
    else:
        names = sorted(subjects)
        dimension = f"dimension = '{SUBJECT}' AND value IN ({_placeholders(names)})"
        dimension_params = names
        edge, edge_params = f"subject IN ({_placeholders(names)}) AND ", names

    def buckets(span: int, start: int | None, end: int | None) -> None:
        if start is not None and end is not None and start >= end:
            return
        conditions = [dimension, "span = ?"]
        params.extend([*dimension_params, span])
        if start is not None:
            conditions.append("start >= ?")
            params.append(start)
        if end is not None:
            conditions.append("start < ?")
            params.append(end)
        parts.append(
            f"(SELECT coalesce(sum(n), 0) FROM log_counts WHERE {' AND '.join(conditions)})"
        )

    def records(start: int, end: int) -> None:
        if start < end:
            parts.append(
                f"(SELECT count(*) FROM logs WHERE {edge}created_at >= ? AND created_at < ?)"
            )
            params.extend([*edge_params, start, end])

    if (
        low is not None
        and high is not None
        and ceil_to(low, MINUTE_MS) >= floor_to(high, MINUTE_MS)
    ):
        records(low, high)  # within two minutes
        return "SELECT " + (" + ".join(parts) or "0"), params
    # [low, minute_from) whole minutes [minute_from, hour_from) whole hours [hour_from,
    # hour_to) whole minutes [hour_to, minute_to) and [minute_to, high); None = unbounded.
    minute_from = None if low is None else ceil_to(low, MINUTE_MS)
    minute_to = None if high is None else floor_to(high, MINUTE_MS)
    hour_from = None if minute_from is None else ceil_to(minute_from, HOUR_MS)
    hour_to = None if minute_to is None else floor_to(minute_to, HOUR_MS)
    if hour_from is not None and hour_to is not None and hour_from >= hour_to:
        buckets(MINUTE_MS, minute_from, minute_to)
    else:
        buckets(HOUR_MS, hour_from, hour_to)
        if minute_from is not None:
            buckets(MINUTE_MS, minute_from, hour_from)
        if minute_to is not None:
            buckets(MINUTE_MS, hour_to, minute_to)
    if low is not None and minute_from is not None:
        records(low, minute_from)
    if high is not None and minute_to is not None:
        records(minute_to, high)
    return "SELECT " + (" + ".join(parts) or "0"), params


def _side_total(query: LogQuery) -> tuple[str, list[Any]] | None:
    """Counted on the side table alone, when the query's one filter besides a created_at range
    is a positive team or metadata filter (and no scope): no `logs` row is read."""
    others = [f for f in query.filters if f.field != "created_at"]
    if query.scope is not None or len(others) != 1 or others[0].operator not in _POSITIVE:
        return None
    f = others[0]
    params: list[Any] = []
    if f.field == "team":
        # A record may hold several of the teams IN / CONTAINS / LT.. match: count it once.
        single = f.operator == "EQ" or (f.operator == "IN" and len(set(f.value)) == 1)
        counted = "count(*)" if single else "count(DISTINCT log_id)"
        cond = _condition("team", f.operator, f.value, params)
        table = "log_teams"
    elif f.field.startswith(FIELD_PREFIX):
        counted, table = "count(*)", "log_metadata"  # one value per key and record
        params.append(f.field[len(FIELD_PREFIX) :])
        cond = "key = ? AND " + _condition("value", f.operator, f.value, params)
    else:
        return None
    bounds = _time_bounds(query.filters, params)
    return f"SELECT {counted} FROM {table} WHERE {cond}{bounds}", params


def total_sql(query: LogQuery) -> tuple[str, list[Any]]:
    """One SELECT of the exact number of records `query` matches, by the cheapest path:
    count buckets, the side table alone, or counting the matching `logs` rows."""
    bounds = time_range(query.filters)
    if bounds is not None:
        only_subjects, subjects = _subjects(query)
        if only_subjects:
            if subjects is not None and not subjects:
                return "SELECT 0", []
            return _bucket_total(*bounds, subjects)
        side = _side_total(query)
        if side is not None:
            return side
    where, params = where_sql(query)
    return f"SELECT count(*) FROM logs{where}", params


def scope_split(query: LogQuery) -> tuple[LogQuery, LogQuery] | None:
    """For a query limiting nothing but a created_at range and a scope with teams: the same
    range for the scope's subjects only, and for its teams only. Its total is then theirs
    less the records in both (both_sql), each cheap to count, where the scope's OR would
    otherwise fetch every record of its teams."""
    scope = query.scope
    if scope is None or not scope.teams or time_range(query.filters) is None:
        return None
    if any(f.field != "created_at" for f in query.filters):
        return None
    subjects = replace(query, scope=LogScope(subjects=scope.subjects))
    teams = replace(query, filters=(*query.filters, LogFilter("team", "IN", list(scope.teams))))
    return subjects, replace(teams, scope=None)


def both_sql(query: LogQuery, *, by_subject: bool) -> tuple[str, list[Any]]:
    """The count of the records in range of both a subject and a team of the scope (see
    scope_split), read from the subjects' records, or from the teams' side rows."""
    scope = query.scope
    if scope is None:
        raise ValueError("both_sql needs a scope: see scope_split()")
    params: list[Any] = []
    if by_subject:
        conditions = [f"subject IN ({_placeholders(scope.subjects)})"]
        params.extend(scope.subjects)
        conditions += _range_sql(*_walk_range(query), params)
        params.extend(scope.teams)
        conditions.append(
            f"EXISTS (SELECT 1 FROM log_teams s WHERE s.team IN ({_placeholders(scope.teams)}) "
            "AND s.created_at = logs.created_at AND s.log_id = logs.pk)"
        )
        return f"SELECT count(*) FROM logs INDEXED BY logs_subject{_where(conditions)}", params
    params.extend(scope.teams)
    teams = [f"team IN ({_placeholders(scope.teams)})", *_range_sql(*_walk_range(query), params)]
    params.extend(scope.subjects)
    return (
        f"SELECT count(*) FROM logs WHERE pk IN (SELECT log_id FROM log_teams{_where(teams)}) "
        f"AND +subject IN ({_placeholders(scope.subjects)})",
        params,
    )


# --- the page


def walk_direction(query: LogQuery) -> bool | None:
    """The direction of the first sort key (True = descending) when it is created_at and the
    created_at filters make one range: the page can then be read off the created_at index
    in order (page_sql's walk). None otherwise."""
    first = query.sort[0] if query.sort else LogSort("created_at")
    if first.field != "created_at" or time_range(query.filters) is None:
        return None
    return first.descending


# (index, column) of the `(column, created_at)` indexes a walk may follow for one value.
_WALK_INDEXES = {"status": ("logs_status", "status"), "user": ("logs_subject", "subject")}


def _walk_key(query: LogQuery) -> tuple[str, str, str, Any] | None:
    """(field, index, column, value) when the query wants one value of a column indexed
    with created_at: walking that index's range reads the query's records only, in order."""
    for f in query.filters:
        if f.field in _WALK_INDEXES and f.operator in ("EQ", "IN"):
            values = [f.value] if f.operator == "EQ" else list(dict.fromkeys(f.value))
            if len(values) == 1:
                return (f.field, *_WALK_INDEXES[f.field], values[0])
    scope = query.scope
    if scope is not None and not scope.teams and len(set(scope.subjects)) == 1:
        return ("user", *_WALK_INDEXES["user"], scope.subjects[0])
    return None


def walk_range(query: LogQuery) -> LogQuery:
    """The query for every record a walk reads (their count is the walk's `in_range`): the
    created_at range, within the walked column value if any."""
    kept = tuple(f for f in query.filters if f.field == "created_at")
    key = _walk_key(query)
    if key is not None:
        kept = (*kept, LogFilter(key[0], "EQ", key[3]))
    return replace(query, filters=kept, scope=None)


def _walk_source(
    query: LogQuery, low: int | None, high: int | None
) -> tuple[str, list[Any], list[str]]:
    """FROM and the index range of a walk: the created_at index, or a (column, created_at)
    one for one value, over [low, high)."""
    params: list[Any] = []
    conditions = []
    key = _walk_key(query)
    index = "logs_created"
    if key is not None:
        _, index, column, value = key
        conditions.append(f"{column} = ?")
        params.append(value)
    conditions += _range_sql(low, high, params)
    return f"logs INDEXED BY {index}", params, conditions


def _range_sql(low: int | None, high: int | None, params: list[Any]) -> list[str]:
    """`low <= created_at < high` as one bound each, so that an index is read over exactly
    that range (of several bounds on one side, SQLite reads it from only one of them)."""
    conditions = []
    if low is not None:
        conditions.append("created_at >= ?")
        params.append(low)
    if high is not None:
        conditions.append("created_at < ?")
        params.append(high)
    return conditions


def _walk_range(query: LogQuery) -> tuple[int | None, int | None]:
    bounds = time_range(query.filters)
    if bounds is None:
        raise ValueError("walking needs a created_at range: see walk_direction()")
    return bounds


def cutoff_sql(query: LogQuery) -> tuple[str, list[Any]]:
    """The created_at of the record at a given position (the last parameter) of the walked
    range in walking order, read off the walked index alone: a walk limited to the records
    up to it reads a known number of them."""
    source, params, conditions = _walk_source(query, *_walk_range(query))
    direction = "DESC" if walk_direction(query) else "ASC"
    return (
        f"SELECT created_at FROM {source}{_where(conditions)} "
        f"ORDER BY created_at {direction} LIMIT 1 OFFSET ?",
        params,
    )


def page_sql(
    query: LogQuery, *, walk: bool = False, cutoff: int | None = None
) -> tuple[str, list[Any]]:
    """The page's records, in order.

    The page's pks are picked first, so a sort over many matches moves narrow rows, not whole
    records with their bodies; only the page's records are then read. With `walk` (when
    walk_direction() allows it), the pks are picked in created_at order off its index (or
    that of one status or subject), from the records up to `cutoff` (a created_at from
    cutoff_sql) when given: as the records up to a created_at come first in that order, the
    page found among them is the page of the whole range whenever they hold enough matches
    to fill it.
    """
    source = "logs"
    params: list[Any] = []
    conditions: list[str] = []
    if walk:
        low, high = _walk_range(query)
        if cutoff is not None:
            if walk_direction(query):
                low = cutoff
            else:
                high = cutoff + 1
        source, params, conditions = _walk_source(query, low, high)
    where = _where([*conditions, *_conditions(query, params, walk)])
    order, order_params = order_sql(query.sort)
    sql = (
        f"SELECT {LOG_COLUMNS} FROM logs WHERE pk IN "
        f"(SELECT pk FROM {source}{where}{order} LIMIT ? OFFSET ?){order}"
    )
    return sql, [*params, *order_params, query.limit, query.offset, *order_params]
