"""The one metadata rule (core/metadata.py), as every entry point applies it."""

from __future__ import annotations

import pytest

from core.errors import InvalidMetadata, InvalidRequest
from core.metadata import check_key, check_metadata, field_key, from_call, parse_metadata


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
