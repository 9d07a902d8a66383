"""Struct/Value conversion and the public surface."""

from __future__ import annotations

import types
from typing import Any

import pytest
from hypothesis import given, settings

import codec
from codec import (
    CodecError,
    chat_params_from_json,
    parse_chunk_json,
    struct_from_dict,
    struct_to_dict,
    value_from_python,
    value_to_python,
)
from tests.codec.strategies import json_values


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_value_round_trip(value: Any) -> None:
    assert value_to_python(value_from_python(value)) == value


def test_struct_round_trip_keeps_ints_and_empties() -> None:
    data = {"a": 1, "b": 1.5, "c": [], "d": {}, "e": None, "f": True, "g": [{"h": "i"}]}
    out = struct_to_dict(struct_from_dict(data))
    assert out == data
    assert type(out["a"]) is int
    assert type(out["f"]) is bool


def test_large_integers_lose_precision_like_javascript() -> None:
    assert value_to_python(value_from_python(2**53)) == 2**53
    assert value_to_python(value_from_python(2**53 + 1)) == float(2**53)
    assert isinstance(value_to_python(value_from_python(2**60)), float)


@pytest.mark.parametrize("bad", [object(), {1, 2}, 10**400])
def test_non_json_values_are_rejected(bad: Any) -> None:
    with pytest.raises(CodecError):
        value_from_python(bad)
    with pytest.raises(CodecError):
        struct_from_dict({"x": bad})


def test_exports_are_complete_and_sorted() -> None:
    public = {
        name
        for name, obj in vars(codec).items()
        if not name.startswith("_") and not isinstance(obj, types.ModuleType)
    }
    assert codec.__all__ == sorted(codec.__all__)
    assert set(codec.__all__) == public


def test_lone_surrogates_are_codec_errors() -> None:
    with pytest.raises(CodecError, match="lone surrogates"):
        chat_params_from_json({"model": "\ud800", "messages": [{"role": "user", "content": "x"}]})
    with pytest.raises(CodecError, match="lone surrogates"):
        parse_chunk_json({"choices": [{"delta": {"content": "\udfff"}}]})
