"""The one metadata rule (core/metadata.py), as every entry point applies it."""

from __future__ import annotations

import orjson
import pytest

from core.errors import InvalidMetadata, InvalidRequest
from core.metadata import (
    MAX_KEY_CHARS,
    MAX_KEYS,
    MAX_VALUE_CHARS,
    check_key,
    check_metadata,
    field_key,
    from_call,
    parse_metadata,
    valid_key,
)


def test_typed_metadata_wins_over_call_metadata() -> None:
    assert from_call({"a": "1"}, [("x-tfy-metadata", '{"b": "2"}')]) == {"a": "1"}


@pytest.mark.parametrize(
    "call", [("x-tfy-metadata", '{"b": "2"}'), ("x-tfy-metadata-bin", b'{"b": "2"}')]
)
def test_call_metadata_as_text_or_bytes(call: tuple[str, str | bytes]) -> None:
    assert from_call({}, [("authorization", "Bearer k"), call]) == {"b": "2"}


def test_utf8_bytes_are_decoded_as_utf8() -> None:
    assert parse_metadata('{"app": "bøø"}'.encode()) == {"app": "bøø"}


def test_blank_text_is_no_metadata() -> None:
    assert parse_metadata("  ") == {}
    assert from_call({}, []) == {}


def test_a_typed_value_error_names_the_key_path() -> None:
    with pytest.raises(InvalidMetadata) as raised:
        from_call({"note": "x" * 129}, [])
    assert raised.value.param == "metadata.note"
    assert raised.value.reason == "invalid_metadata"


def test_a_header_error_names_the_header() -> None:
    with pytest.raises(InvalidMetadata) as raised:
        check_metadata({"k": 1})
    assert raised.value.param == "X-TFY-METADATA"
    assert "'k'" in raised.value.message


@pytest.mark.parametrize("key", ["", "k" * 129, "tab\there"])
def test_field_keys_are_checked(key: str) -> None:
    with pytest.raises(InvalidRequest):
        check_key(key, param="group_by[0]")


def test_field_key() -> None:
    assert field_key("metadata.customer_id") == "customer_id"
    assert field_key("model") is None


def test_at_most_64_keys() -> None:
    assert len(check_metadata({f"k{i}": "v" for i in range(MAX_KEYS)})) == MAX_KEYS
    with pytest.raises(InvalidMetadata) as raised:
        check_metadata({f"k{i}": "v" for i in range(30_000)})
    assert raised.value.param == "X-TFY-METADATA"
    assert "30000 keys" in raised.value.message
    assert f"at most {MAX_KEYS}" in raised.value.message
    assert "'k64'" in raised.value.message  # the first key over the limit


def test_the_key_count_applies_to_every_entry_point() -> None:
    many = {f"k{i}": "v" for i in range(MAX_KEYS + 1)}
    with pytest.raises(InvalidMetadata) as typed:
        from_call(many, [])
    assert typed.value.param == "metadata"
    with pytest.raises(InvalidMetadata):
        from_call({}, [("x-tfy-metadata-bin", orjson.dumps(many))])


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("", "must not be empty"),
        ("k" * 5000, "longer than 128 characters"),
        ("k" * (MAX_KEY_CHARS + 1), "longer than 128 characters"),
        ("tab\there", "printable"),
        ("nul\x00", "printable"),
    ],
)
def test_keys_follow_the_one_key_rule(key: str, words: str) -> None:
    assert not valid_key(key)
    with pytest.raises(InvalidMetadata) as raised:
        check_metadata({key: "v"})
    assert words in raised.value.message
    assert raised.value.reason == "invalid_metadata"
    with pytest.raises(InvalidRequest):
        check_key(key, param="filters[0].field")


def test_the_longest_key_and_value_are_accepted() -> None:
    key = "k" * MAX_KEY_CHARS
    assert check_metadata({key: "v" * MAX_VALUE_CHARS}) == {key: "v" * MAX_VALUE_CHARS}


def test_a_value_with_nul_is_refused_naming_its_key() -> None:
    # Log filters refuse NUL (SQLite's LIKE stops at it), so such a value could never be found.
    with pytest.raises(InvalidMetadata) as raised:
        parse_metadata('{"app": "a\\u0000b"}')
    assert "'app'" in raised.value.message
    assert "NUL" in raised.value.message
    with pytest.raises(InvalidMetadata) as typed:
        from_call({"app": "\x00"}, [])
    assert typed.value.param == "metadata.app"
