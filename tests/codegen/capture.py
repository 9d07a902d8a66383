"""An HTTP server that records what a snippet sends and answers like a chat completions API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = "captured"
_COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "mock-main/echo",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": ANSWER},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


@dataclass(frozen=True)
class Captured:
    """One request as the server received it."""

    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class CaptureServer:
    """The running server's base URL and what it has received."""

    url: str
    requests: list[Captured] = field(default_factory=list)

    def only(self) -> Captured:
        assert len(self.requests) == 1, self.requests
        return self.requests[0]


@contextmanager
def capture_server() -> Iterator[CaptureServer]:
    """Serves on an ephemeral port of 127.0.0.1 until the block ends."""
    received: list[Captured] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            received.append(Captured(self.path, headers, json.loads(raw)))
            answer = json.dumps(_COMPLETION).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield CaptureServer(f"http://127.0.0.1:{server.server_address[1]}", received)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
