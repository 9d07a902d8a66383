"""Server-sent events from an upstream body, with a bound on how much one event may hold."""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable

SseEvent = tuple[str | None, str]
"""One server-sent event: its `event:` name (None when absent) and its joined `data:` lines."""


class SseReader:
    """Splits bytes into SSE events: `data:` lines joined, `event:` kept, a blank line ends one.

    `read` returns the next bytes of the body, b"" at its end. `on_error` turns what `read`
    raises into the error to raise. An unfinished line plus the event's data so far may hold
    `max_event_bytes`; past that `too_large()` is raised at once, so a provider that never
    ends a line cannot make the gateway buffer without bound.
    """

    def __init__(
        self,
        first: bytes,
        read: Callable[[], Awaitable[bytes]],
        *,
        max_event_bytes: int,
        on_error: Callable[[Exception], Exception],
        too_large: Callable[[], Exception],
    ) -> None:
        self._read = read
        self._max = max_event_bytes
        self._on_error = on_error
        self._too_large = too_large
        self._lines: deque[bytes] = deque()
        # The unfinished last line, in pieces: joining each new chunk onto one growing bytes
        # would copy a long line over and over.
        self._tail: list[bytes] = []
        self._tail_size = 0
        self._event: str | None = None
        self._data: list[str] = []
        self._data_size = 0
        self._eof = False
        if first:
            self._add(first)

    def __aiter__(self) -> SseReader:
        return self

    async def __anext__(self) -> SseEvent:
        while True:
            event = self._next_buffered()
            if event is not None:
                return event
            if self._eof:
                # An event without its closing blank line is incomplete: dropped, as the spec says.
                raise StopAsyncIteration
            try:
                chunk = await self._read()
            except Exception as exc:
                raise self._on_error(exc) from exc
            if chunk:
                self._add(chunk)
            else:
                self._eof = True

    def _add(self, chunk: bytes) -> None:
        if b"\n" not in chunk:
            self._tail.append(chunk)
            self._tail_size += len(chunk)
        else:
            parts = chunk.split(b"\n")
            if self._tail:
                parts[0] = b"".join((*self._tail, parts[0]))
            last = parts.pop()
            self._tail, self._tail_size = ([last], len(last)) if last else ([], 0)
            self._lines.extend(parts)
        if self._tail_size > self._max:
            raise self._too_large()

    def _next_buffered(self) -> SseEvent | None:
        while self._lines:
            line = self._lines.popleft()
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if self._data:
                    event = (self._event, "\n".join(self._data))
                    self._event, self._data, self._data_size = None, [], 0
                    return event
                self._event = None
                continue
            name, _, value = line.partition(b":")
            if value.startswith(b" "):
                value = value[1:]
            if name == b"data":
                self._data_size += len(value)
                if self._data_size > self._max:
                    raise self._too_large()
                self._data.append(value.decode("utf-8", "replace"))
            elif name == b"event":
                self._event = value.decode("utf-8", "replace")
            # Comments (`: ...`), `id:` and `retry:` mean nothing to a one-shot completion stream.
        return None
