"""Shortens the bodies of log entries so that the response holding them fits one gRPC message.

A stored record can be as big as the call it logs (a 3 MB prompt, a 10 MB embedding answer),
and a page of them bigger still; over the message limit the page could not be sent at all.
So the largest bodies are cut to a common size, smaller ones kept whole (as water fills
vessels), and each cut entry says so in `bodies_truncated`. A cut body stays valid JSON: a
JSON string holding the start of the logged JSON text.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from gateway.v1 import log_pb2

# The response's own fields (token, totals) and each entry's tag and length prefix.
ENVELOPE_BYTES = 1024
ENTRY_FRAMING_BYTES = 6
_BODIES = ("request_json", "response_json")


def fit_entries(entries: Sequence[log_pb2.LogEntry], max_message_bytes: int) -> None:
    """Cuts the largest bodies of `entries`, in place, until they fit `max_message_bytes`."""
    budget = max_message_bytes - ENVELOPE_BYTES
    total = sum(entry.ByteSize() + ENTRY_FRAMING_BYTES for entry in entries)
    if total <= budget:
        return
    bodies = [
        (entry, name, len(getattr(entry, name).encode()))
        for entry in entries
        for name in _BODIES
        if getattr(entry, name)
    ]
    fixed = total - sum(size for _, _, size in bodies)
    cap = _common_cap(sorted(size for _, _, size in bodies), budget - fixed)
    for entry, name, size in bodies:
        if size > cap:
            setattr(entry, name, shortened(getattr(entry, name), cap))
            entry.bodies_truncated = True


def shortened(text: str, max_bytes: int) -> str:
    """The start of `text` as a JSON string literal of at most `max_bytes` (UTF-8) bytes."""
    raw = text.encode()
    keep = max(max_bytes - 2, 0)  # the two quotes
    while True:
        prefix = raw[:keep].decode(errors="ignore")  # never half a character
        literal = orjson.dumps(prefix)
        over = len(literal) - max_bytes
        if over <= 0 or not prefix:
            return literal.decode()
        keep = max(keep - over, 0)  # escapes made it longer: drop that many, retry


def _common_cap(sizes: list[int], room: int) -> int:
    """The largest size every body may keep so that, cut to it, they all fit in `room`."""
    for i, size in enumerate(sizes):
        left = len(sizes) - i
        if size * left > room:
            return max(room, 0) // left
        room -= size
    return sizes[-1] if sizes else 0
