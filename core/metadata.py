"""Custom metadata (`X-TFY-METADATA`): the one rule every entry point applies.

Metadata is a JSON object of at most 64 string keys to string values. A key is 1 to 128
printable characters; a value is a string of at most 128 characters (DESIGN section 4, the
seed) without NUL (U+0000), which log filters refuse (core/logs/query.py) so a value holding
one could never be found. Anything else is a 400 (`invalid_metadata`) whose message names the
key at fault. Each key becomes a stored row and an index entry of the call's log record: the
key count is what keeps one request from writing thousands.

Where it arrives: the typed `metadata` field of a gRPC request, the `x-tfy-metadata` call
metadata (JSON text) or `x-tfy-metadata-bin` (UTF-8 JSON bytes: what the facade forwards from
the HTTP header, unparsed), and a `LogService.Log` entry. Log filters and metrics group keys
name a key as `metadata.<key>`, checked by `check_key` too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import islice

import orjson

from core.errors import InvalidMetadata, InvalidRequest

HEADER = "X-TFY-METADATA"
CALL_METADATA_KEY = "x-tfy-metadata"
CALL_METADATA_BIN_KEY = "x-tfy-metadata-bin"
FIELD_PREFIX = "metadata."
"""Prefix of a metadata key where a field name is expected: `metadata.customer_id`."""
MAX_KEYS = 64
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 128
MAX_CALL_METADATA_BYTES = 128 * 1024
"""How much gRPC call metadata core's server accepts, `x-tfy-metadata(-bin)` included. gRPC's
own defaults (8 KiB, then random refusals up to 16 KiB) are below the largest valid metadata
(64 keys and values of 128 characters: about 17 KB of JSON) and would answer RESOURCE_EXHAUSTED
instead of the 400 naming the key; this is twice the facade's 64 KiB cap on HTTP headers."""
_JSON_BLANK = " \t\r\n"
_JSON_BLANK_BYTES = _JSON_BLANK.encode()
LOG_REQUEST_KEY = "tfy_log_request"
"""`"false"` keeps the request and response bodies out of the call's log record."""


def valid_key(key: str) -> bool:
    """Whether `key` is 1 to 128 printable characters: the one rule for every metadata key."""
    return 0 < len(key) <= MAX_KEY_CHARS and key.isprintable()


def check_key(key: str, *, param: str) -> str:
    """`key` when it is 1 to 128 printable characters; InvalidRequest naming it otherwise."""
    if not valid_key(key):
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
    if len(metadata) > MAX_KEYS:
        first_over = next(islice(metadata, MAX_KEYS, None))
        raise InvalidMetadata(
            f"{HEADER} has {len(metadata)} keys; at most {MAX_KEYS} are allowed "
            f"(the first one over is {first_over[:40]!r})",
            param=param,
        )
    for key, value in metadata.items():
        if not valid_key(key):
            raise InvalidMetadata(_key_problem(key), param=param)
        if not isinstance(value, str):
            raise InvalidMetadata(
                f"{HEADER} value of key {key!r} must be a string", param=_at(param, key)
            )
        if len(value) > MAX_VALUE_CHARS:
            raise InvalidMetadata(
                f"{HEADER} value of key {key!r} is longer than {MAX_VALUE_CHARS} characters",
                param=_at(param, key),
            )
        if "\x00" in value:
            raise InvalidMetadata(
                f"{HEADER} value of key {key!r} must not contain NUL (U+0000)",
                param=_at(param, key),
            )
    return dict(metadata)  # type: ignore[arg-type]  # checked above: str -> str


def _key_problem(key: str) -> str:
    if not key:
        return f"{HEADER} keys must not be empty"
    if len(key) > MAX_KEY_CHARS:
        return f"{HEADER} key {key[:40]!r}... is longer than {MAX_KEY_CHARS} characters"
    return f"{HEADER} key {key!r} must be printable characters (no control characters)"


def _at(param: str, key: str) -> str:
    # A header is one parameter to HTTP callers; a field's keys are paths of their own.
    return param if param == HEADER else f"{param}.{key}"


def parse_metadata(raw: str | bytes, *, param: str = HEADER) -> dict[str, str]:
    """Metadata from its JSON text (a header value); empty or blank text is no metadata."""
    # Blank as JSON means it (spaces, tabs, line breaks): str.strip() alone also strips
    # characters such as U+001C, so text and bytes of one header could be answered apart.
    if not (raw.strip(_JSON_BLANK) if isinstance(raw, str) else raw.strip(_JSON_BLANK_BYTES)):
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
