"""Type checks for modeled JSON fields, raising CodecError with the field's JSON path.

`where` is the path of the enclosing object (`messages[2]`, or "" at the top level) and
`key` the field name; the full path is only built when a check fails.
"""

from __future__ import annotations

from typing import Any

from codec.errors import CodecError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1


def join(where: str, key: str) -> str:
    """JSON path of `key` inside the object at `where`."""
    return f"{where}.{key}" if where else key


def json_type(value: Any) -> str:
    """JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def type_error(value: Any, where: str, key: str, expected: str) -> CodecError:
    """The error for a modeled field holding the wrong JSON type."""
    path = join(where, key)
    return CodecError(f"`{path}` must be {expected}, got {json_type(value)}", path)


def as_str(value: Any, where: str, key: str) -> str:
    if isinstance(value, str):
        return value
    raise type_error(value, where, key, "a string")


def as_bool(value: Any, where: str, key: str) -> bool:
    if isinstance(value, bool):
        return value
    raise type_error(value, where, key, "a boolean")


def as_float(value: Any, where: str, key: str) -> float:
    # JSON has one number type: integers are valid floats, booleans are not.
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            path = join(where, key)
            raise CodecError(f"`{path}` is out of range", path) from None
    raise type_error(value, where, key, "a number")


def as_int(value: Any, where: str, key: str, low: int = INT64_MIN, high: int = INT64_MAX) -> int:
    # Clients written in JavaScript may send 100.0; accept integral floats, reject bools.
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise type_error(value, where, key, "an integer")
    if not low <= number <= high:
        path = join(where, key)
        raise CodecError(f"`{path}` is out of range", path)
    return number


def as_object(value: Any, where: str, key: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise type_error(value, where, key, "an object")


def as_list(value: Any, where: str, key: str) -> list[Any]:
    if isinstance(value, list):
        return value
    raise type_error(value, where, key, "an array")


def plain_str(value: Any, extras: dict[str, Any], where: str, key: str) -> str:
    """Read a proto3 string without presence, keeping `""` and null in `extras`.

    Such a field can't tell `""` from unset, so encoders emit it only when non-empty and
    the extras entry restores an explicit `""` or null.
    """
    if isinstance(value, str):
        if not value:
            extras[key] = value
        return value
    if value is None:
        extras[key] = None
        return ""
    raise type_error(value, where, key, "a string")
