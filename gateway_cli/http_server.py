"""uvicorn's Server, told when it is listening, and not re-raising SIGTERM so core can drain."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Generator

import uvicorn


class HttpServer(uvicorn.Server):
    """Calls `on_started(port)` once listening; shuts down on SIGINT/SIGTERM without re-raising."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[int], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.servers:
            self._on_started(self.servers[0].sockets[0].getsockname()[1])

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        with super().capture_signals():
            yield
            # uvicorn would re-raise the signal and kill the process before core has drained.
            self._captured_signals.clear()
