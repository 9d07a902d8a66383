"""The log API's `filter` object, shared by the logs and metrics JSON APIs.

`{"FIELD": [{"key", "value", "operator"}]}` becomes `LogFieldFilter`s; only the JSON shape is
checked here (objects, lists, operator names), core checks fields and value types and names
the proto path at fault (`filters[3].value`), which `filter_param` maps back onto the body.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableSequence
from typing import Any

from codec import CodecError, value_from_python
from gateway.v1 import log_service_pb2 as pb

__all__ = ["filter_param", "indexed_param", "read_filters"]

_OPERATORS = {
    name.removeprefix("LOG_FILTER_OPERATOR_"): number
    for name, number in pb.LogFilterOperator.items()
    if number != pb.LOG_FILTER_OPERATOR_UNSPECIFIED
}
_CONDITION_KEYS = frozenset({"key", "value", "operator"})


def read_filters(raw: Any, into: MutableSequence[pb.LogFieldFilter], paths: list[str]) -> None:
    """Appends the conditions of a `filter` object to `into`, and their JSON paths to `paths`."""
    if raw is None:
        return
    if not isinstance(raw, dict):
        raise CodecError(
            'filter must be an object: {"FIELD": [{"key", "value", "operator"}]}', "filter"
        )
    for name, conditions in raw.items():
        path = f"filter.{name}"
        if isinstance(conditions, dict):  # one condition without its list
            conditions = [conditions]
        if not isinstance(conditions, list):
            raise CodecError(f"{path} must be a list of conditions {{key, value, operator}}", path)
        for j, condition in enumerate(conditions):
            into.append(_condition(name, condition, f"{path}[{j}]"))
            paths.append(f"{path}[{j}]")


def filter_param(param: str, paths: list[str]) -> str | None:
    """Core's `filters[3].value` as the body's `filter.created_at[1].value`; None if not one."""
    return indexed_param(param, "filters", paths, {"field": "key"})


def indexed_param(
    param: str, repeated: str, paths: list[str], renames: Mapping[str, str]
) -> str | None:
    """Core's `<repeated>[i].<name>...` as the body's `paths[i]`, its `name` renamed by
    `renames` (a proto field -> its JSON key); None if `param` is not in `repeated`."""
    prefix = f"{repeated}["
    if not param.startswith(prefix):
        return None
    index, _, rest = param[len(prefix) :].partition("]")
    if not (index.isdigit() and int(index) < len(paths)):
        return None
    head, _, tail = rest.lstrip(".").partition(".")
    return ".".join(p for p in (paths[int(index)], renames.get(head, head), tail) if p)


def _condition(name: str, condition: Any, path: str) -> pb.LogFieldFilter:
    if not isinstance(condition, dict):
        raise CodecError(f"{path} must be an object {{key, value, operator}}", path)
    extra = sorted(set(condition) - _CONDITION_KEYS)
    if extra:
        raise CodecError(
            f"unknown key {extra[0]!r} in {path}; a condition has key, value and operator",
            f"{path}.{extra[0]}",
        )
    key = condition.get("key", name)
    if key != name:
        raise CodecError(
            f"{path}.key {key!r} does not match the field it is listed under ({name!r})",
            f"{path}.key",
        )
    operator = condition.get("operator", "EQ")
    if not isinstance(operator, str) or operator.upper() not in _OPERATORS:
        raise CodecError(
            f"unknown operator {operator!r} in the filter on {name!r}; "
            f"use one of: {', '.join(_OPERATORS)}",
            f"{path}.operator",
        )
    if "value" not in condition:
        raise CodecError(f"the filter on {name!r} needs a value", f"{path}.value")
    value = value_from_python(condition["value"])
    return pb.LogFieldFilter(field=name, operator=_OPERATORS[operator.upper()], value=value)
