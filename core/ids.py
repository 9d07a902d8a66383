"""Ids the gateway makes: time-ordered, so new records land at the end of store indexes."""

from __future__ import annotations

import os
import time


def new_id() -> str:
    """32 hex chars: 12 of epoch milliseconds, then 20 random (80 bits), like UUIDv7.

    Time-ordered ids append to B-tree indexes instead of splitting pages all over them:
    measured about +50% insert rate on SQLite against uuid4 ids.
    """
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"


CALLER_ID_SEPARATOR = "."
"""Between a caller's own request id and the suffix that makes each of its calls' records
unique: callers reuse ids (retries do), and every call still gets its own record."""


def log_id_for(request_id: str, *, from_caller: bool) -> str:
    """The id of a call's log record: the request id core made, or the caller's own id with
    a unique suffix (`<caller id>.<8 hex>`), which `caller_id_prefix` finds again."""
    if not from_caller:
        return request_id
    return f"{request_id}{CALLER_ID_SEPARATOR}{new_id()[12:20]}"


def caller_id_prefix(request_id: str) -> str:
    """What the ids of the records of calls made with the caller's `request_id` start with."""
    return request_id + CALLER_ID_SEPARATOR
