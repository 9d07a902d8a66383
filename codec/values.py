"""google.protobuf Struct/Value <-> plain JSON values (dict, list, str, float, int, bool, None).

A Struct stores every number as a double. Reading one back turns an integral value with
abs <= 2**53 into an int, so JSON integers round-trip (and `1.0` comes back as `1`, which
is == in Python). Integers beyond 2**53 in free-form extras lose precision, as in JavaScript.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf.struct_pb2 import NULL_VALUE, Struct, Value

from codec.errors import CodecError

_MAX_SAFE_INT = 2**53


def struct_from_dict(data: Mapping[str, Any]) -> Struct:
    """Build a Struct from a JSON object; raises CodecError for values JSON can't hold."""
    struct = Struct()
    fill_struct(struct, data, None)
    return struct


def fill_struct(struct: Struct, data: Mapping[str, Any], param: str | None) -> None:
    """Merge `data` into `struct`, blaming `param` for non-JSON values."""
    try:
        # Struct.update recurses through nested dicts and lists itself.
        struct.update(data)
    except (ValueError, TypeError, OverflowError) as exc:
        raise CodecError(f"`{param or 'body'}` holds a value that is not JSON", param) from exc


def struct_to_dict(struct: Struct) -> dict[str, Any]:
    """Turn a Struct back into a JSON object."""
    return {key: value_to_python(value) for key, value in struct.fields.items()}


def value_to_python(value: Value) -> Any:
    """Turn a Value back into a JSON value; an unset Value reads as null."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        number = value.number_value
        if number.is_integer() and -_MAX_SAFE_INT <= number <= _MAX_SAFE_INT:
            return int(number)
        return number
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return struct_to_dict(value.struct_value)
    if kind == "list_value":
        return [value_to_python(item) for item in value.list_value.values]
    return None


def value_from_python(obj: Any) -> Value:
    """Build a Value from a JSON value; raises CodecError for anything JSON can't hold."""
    value = Value()
    try:
        if obj is None:
            value.null_value = NULL_VALUE
        elif isinstance(obj, bool):  # before int: bool is an int subclass
            value.bool_value = obj
        elif isinstance(obj, str):
            value.string_value = obj
        elif isinstance(obj, int | float):
            value.number_value = obj
        elif isinstance(obj, Mapping):
            value.struct_value.SetInParent()  # so that {} still reads back as {}
            value.struct_value.update(obj)
        elif isinstance(obj, list | tuple):
            value.list_value.SetInParent()
            value.list_value.extend(obj)
        else:
            raise TypeError(type(obj).__name__)
    except (ValueError, TypeError, OverflowError) as exc:
        raise CodecError("value is not JSON") from exc
    return value


def merge_extras(out: dict[str, Any], extras: Struct) -> dict[str, Any]:
    """Add the keys of `extras` that typed fields left out of `out`, and return `out`.

    Typed values win; where both sides hold an object (e.g. a tool call's `function`, whose
    proto has no extras of its own) the extras object fills in the typed one, recursively.
    """
    for key, value in extras.fields.items():
        current = out.get(key)
        if key not in out:
            out[key] = value_to_python(value)
        elif isinstance(current, dict) and value.WhichOneof("kind") == "struct_value":
            merge_extras(current, value.struct_value)
    return out
