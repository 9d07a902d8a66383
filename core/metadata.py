"""Custom metadata (`X-TFY-METADATA`): the one rule every entry point applies.

Metadata is a JSON object of string keys to string values. A key is 1 to 128 printable
characters; a value is a string of at most 128 characters (DESIGN section 4, the seed).
Anything else is a 400 (`invalid_metadata`) whose message names the key at fault.

Where it arrives: the typed `metadata` field of a gRPC request, the `x-tfy-metadata` call
metadata (JSON text) or `x-tfy-metadata-bin` (UTF-8 JSON bytes: what the facade forwards from
the HTTP header, unparsed), and a `LogService.Log` entry. Log filters and metrics group keys
name a key as `metadata.<key>`, checked by `check_key` too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import orjson

from core.errors import InvalidMetadata, InvalidRequest

HEADER = "X-TFY-METADATA"
CALL_METADATA_KEY = "x-tfy-metadata"
CALL_METADATA_BIN_KEY = "x-tfy-metadata-bin"
FIELD_PREFIX = "metadata."
"""Prefix of a metadata key where a field name is expected: `metadata.customer_id`."""
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 128
LOG_REQUEST_KEY = "tfy_log_request"
"""`"false"` keeps the request and response bodies out of the call's log record."""


def check_key(key: str, *, param: str) -> str:
    """`key` when it is 1 to 128 printable characters; InvalidRequest naming it otherwise."""
    if not key or len(key) > MAX_KEY_CHARS or not key.isprintable():
        raise InvalidRequest(
            f"metadata key {key[:MAX_KEY_CHARS]!r} must be 1 to {MAX_KEY_CHARS} printable "
            "characters",
            param=param,
        )
    return key


def field_key(field: str) -> str | None:
    """The key of a `metadata.<key>` field name (unchecked), None for any other field."""
    return field[len(FIELD_PREFIX) :] if field.startswith(FIELD_PREFIX) else None


def check_metadata(metadata: Mapping[str, object], *, param: str = HEADER) -> dict[str, str]:
    """The metadata as a dict of strings; InvalidMetadata naming the first key at fault."""
    for key, value in metadata.items():
        if not key:
            raise InvalidMetadata(f"{HEADER} keys must not be empty", param=param)
        if len(key) > MAX_KEY_CHARS:
            raise InvalidMetadata(
                f"{HEADER} key {key[:40]!r}... is longer than {MAX_KEY_CHARS} characters",
                param=param,
            )
        if not isinstance(value, str):
            raise InvalidMetadata(
                f"{HEADER} value of key {key!r} must be a string", param=_at(param, key)
            )
        if len(value) > MAX_VALUE_CHARS:
            raise InvalidMetadata(
                f"{HEADER} value of key {key!r} is longer than {MAX_VALUE_CHARS} characters",
                param=_at(param, key),
            )
    return dict(metadata)  # type: ignore[arg-type]  # checked above: str -> str


def _at(param: str, key: str) -> str:
    # A header is one parameter to HTTP callers; a field's keys are paths of their own.
    return param if param == HEADER else f"{param}.{key}"


def parse_metadata(raw: str | bytes, *, param: str = HEADER) -> dict[str, str]:
    """Metadata from its JSON text (a header value); empty or blank text is no metadata."""
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise InvalidMetadata(f"{HEADER} must be a JSON object of string values", param=param)
    return check_metadata(value, param=param)


def from_call(
    typed: Mapping[str, str], call_metadata: Iterable[tuple[str, str | bytes]]
) -> dict[str, str]:
    """A gRPC call's metadata: the typed field when set, else the JSON in the call metadata."""
    if typed:
        return check_metadata(typed, param="metadata")
    for key, value in call_metadata:
        if key in (CALL_METADATA_BIN_KEY, CALL_METADATA_KEY):
            return parse_metadata(value)
    return {}
