"""LogRecord <-> one JSON line of the journal (orjson; unknown keys ignored for forward compat)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import orjson

from core.store.base import Attempt, LogRecord

VERSION = 1
_FIELDS = frozenset(f.name for f in fields(LogRecord))


class BadLine(ValueError):
    """A journal line that is not a record this version can read."""


def record_to_line(record: LogRecord) -> bytes:
    """The record as one JSON line, newline included."""
    return orjson.dumps({"v": VERSION, "record": record}, option=orjson.OPT_APPEND_NEWLINE)


def records_to_lines(records: list[LogRecord]) -> bytes:
    return b"".join(record_to_line(r) for r in records)


def record_from_line(line: bytes) -> LogRecord:
    """Parses a line written by `record_to_line`; BadLine if it is not one."""
    try:
        data = orjson.loads(line)
        raw = data["record"]
        if data.get("v") != VERSION or not isinstance(raw, dict):
            raise BadLine(f"unsupported journal line version {data.get('v')!r}")
        return _record(raw)
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise BadLine(f"unreadable journal line: {exc}") from None


def _record(raw: dict[str, Any]) -> LogRecord:
    values = {k: v for k, v in raw.items() if k in _FIELDS}
    values["teams"] = tuple(values.get("teams") or ())
    values["metadata"] = dict(values.get("metadata") or {})
    values["attempts"] = tuple(Attempt(**a) for a in values.get("attempts") or ())
    for body in ("request_body", "response_body"):  # journals written before bodies were text
        if isinstance(values.get(body), dict):
            values[body] = orjson.dumps(values[body]).decode()
    return LogRecord(**values)
