"""ConverseStream's binary event stream (`application/vnd.amazon.eventstream`) -> events.

Each frame has a prelude (lengths and their CRC), headers, a JSON payload and a CRC of the
whole; botocore's `EventStreamBuffer` checks both CRCs and parses the headers. This module
adds what a gateway needs on top: a bound on how much one frame may hold, and exception
frames turned into the gateway's errors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import orjson
from botocore.eventstream import EventStreamBuffer, ParserError

from core.errors import UpstreamFailed
from core.providers.bedrock_errors import exception_frame_error

Event = tuple[str, dict[str, Any]]
"""One stream event: its `:event-type` (`contentBlockDelta`, ...) and its decoded payload."""


async def converse_events(
    chunks: AsyncIterator[bytes],
    *,
    label: str,
    max_frame_bytes: int,
    too_large: Callable[[], Exception],
    secrets: Sequence[str] = (),
) -> AsyncIterator[Event]:
    """The events in a body read as `chunks`; raises the gateway error an exception frame
    names (never quoting `secrets`), UpstreamFailed on a corrupt frame, and `too_large()` as
    soon as one frame is known to be (or has buffered) more than `max_frame_bytes`."""
    buffer = EventStreamBuffer()
    pending = 0  # bytes added and not yet parsed into a frame
    async for chunk in chunks:
        buffer.add_data(chunk)
        pending += len(chunk)
        while True:
            try:
                message = next(buffer, None)
            except ParserError as exc:
                raise UpstreamFailed(
                    f"{label}: upstream sent a corrupt event-stream frame ({type(exc).__name__})"
                ) from None
            if message is None:
                break
            pending -= message.prelude.total_length
            if message.prelude.total_length > max_frame_bytes:
                raise too_large()
            yield _event(message.headers, message.payload, label, secrets)
        if pending > max_frame_bytes:
            raise too_large()


def _event(headers: dict[str, Any], payload: bytes, label: str, secrets: Sequence[str]) -> Event:
    message_type = headers.get(":message-type")
    if message_type == "exception":
        kind = str(headers.get(":exception-type", ""))
        raise exception_frame_error(kind, payload, label=label, secrets=secrets)
    if message_type == "error":
        # A protocol-level failure: the reason travels in headers, not in the payload.
        code = headers.get(":error-code", "unknown")
        text = headers.get(":error-message", "")
        raise UpstreamFailed(f"{label}: upstream failed mid-stream: {code}: {text}")
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise UpstreamFailed(f"{label}: upstream sent a stream event that is not JSON") from None
    if not isinstance(event, dict):
        raise UpstreamFailed(f"{label}: upstream sent a stream event that is not an object")
    return str(headers.get(":event-type", "")), event
