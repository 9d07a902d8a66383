"""A real HTTP fake of OpenAI, Azure OpenAI and Anthropic on 127.0.0.1 (ephemeral port).

It runs in a thread with its own event loop, so sync tests, async tests and a gateway in
another thread can all call it. Behaviour is picked by the model name: see tests/fakes/script.py.
It records every request and counts the responses the client walked away from.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes import anthropic_wire, openai_wire
from tests.fakes.script import ServerState

_START_TIMEOUT = 10.0
_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Header names lower-cased."""
    body: Any
    """Decoded JSON, or the raw text when the body is not JSON."""
    peer: str
    """The client's `host:port`: the same for requests that reused one pooled connection."""

    @property
    def model(self) -> str:
        """The body's model, else the path (Azure names the deployment in the path)."""
        if isinstance(self.body, dict) and isinstance(self.body.get("model"), str):
            return str(self.body["model"])
        return self.path


class FakeUpstream:
    """The running fake: `base_url` (`http://127.0.0.1:PORT`), `requests`, disconnect counts."""

    def __init__(self) -> None:
        self.base_url = ""
        self._lock = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._disconnects: Counter[str] = Counter()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="fake-upstream", daemon=True)

    # -- what tests read ---------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def forget(self) -> None:
        """Drops the requests recorded so far, so a long soak does not keep them all."""
        with self._lock:
            self._requests.clear()

    def requests_for(self, model: str) -> list[RecordedRequest]:
        """Requests whose model (or, for Azure, path) contains `model`."""
        return [r for r in self.requests if model in r.model or model in r.path]

    def last_request(self, model: str) -> RecordedRequest:
        found = self.requests_for(model)
        assert found, f"the fake upstream saw no request for {model!r}"
        return found[-1]

    def client_disconnects(self, model: str | None = None) -> int:
        """Responses (for `model`, or all) the client closed before the fake finished them."""
        with self._lock:
            if model is None:
                return self._disconnects.total()
            return sum(n for name, n in self._disconnects.items() if model in name)

    def wait_for_disconnects(self, model: str, count: int = 1, timeout: float = 10.0) -> bool:
        """Blocks until `client_disconnects(model) >= count`; async code uses `disconnected`."""
        with self._lock:
            return self._lock.wait_for(lambda: self.client_disconnects(model) >= count, timeout)

    async def received(self, model: str, count: int = 1) -> bool:
        """Waits, without blocking the caller's loop, until `count` requests for `model` came."""

        def wait() -> bool:
            with self._lock:
                return self._lock.wait_for(
                    lambda: len(self.requests_for(model)) >= count, _WAIT_SECONDS
                )

        return await asyncio.to_thread(wait)

    async def disconnected(self, model: str, count: int = 1) -> bool:
        """Waits, without blocking the caller's loop, until `client_disconnects(model) >= count`."""
        return await asyncio.to_thread(self.wait_for_disconnects, model, count)

    # -- start and stop ------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("the fake upstream did not start")
        if self._failure is not None:
            raise RuntimeError("the fake upstream failed to start") from self._failure

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(_START_TIMEOUT)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # surfaced by start(); a thread has nowhere else to report
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        state = ServerState()
        app = web.Application(middlewares=[self._middleware(state)], client_max_size=64 * 2**20)
        _add_routes(app, state)
        # handler_cancellation: a client that leaves cancels its handler, which is how
        # disconnects are counted.
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        await web.SockSite(runner, sock).start()
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            state.stopping.set()  # releases `hold-<n>` streams
            await runner.cleanup()

    def _middleware(self, state: ServerState) -> Any:
        @web.middleware
        async def record(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            raw = await request.read()
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            recorded = RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
                peer=_peer(request),
            )
            with self._lock:
                self._requests.append(recorded)
                self._lock.notify_all()
            try:
                response = await handler(request)
            except asyncio.CancelledError:
                if id(request) not in state.server_closed and not state.stopping.is_set():
                    self._count_disconnect(recorded.model)
                raise
            if id(request) in state.client_left:
                self._count_disconnect(recorded.model)
            return response

        return record

    def _count_disconnect(self, model: str) -> None:
        with self._lock:
            self._disconnects[model] += 1
            self._lock.notify_all()


def _add_routes(app: web.Application, state: ServerState) -> None:
    async def openai_chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        return await openai_wire.chat(request, state, body, str(body.get("model", "")))

    async def openai_embeddings(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        return await openai_wire.embeddings(request, state, body, str(body.get("model", "")))

    async def azure_chat(request: web.Request) -> web.StreamResponse:
        refused = await openai_wire.azure_checks(request)
        if refused is not None:
            return refused
        body = await request.json()
        return await openai_wire.chat(request, state, body, request.match_info["deployment"])

    async def azure_embeddings(request: web.Request) -> web.StreamResponse:
        refused = await openai_wire.azure_checks(request)
        if refused is not None:
            return refused
        body = await request.json()
        return await openai_wire.embeddings(request, state, body, request.match_info["deployment"])

    async def anthropic_messages(request: web.Request) -> web.StreamResponse:
        return await anthropic_wire.messages(request, state, await request.json())

    app.router.add_post("/v1/chat/completions", openai_chat)
    app.router.add_post("/v1/embeddings", openai_embeddings)
    app.router.add_post("/openai/deployments/{deployment}/chat/completions", azure_chat)
    app.router.add_post("/openai/deployments/{deployment}/embeddings", azure_embeddings)
    app.router.add_post("/v1/messages", anthropic_messages)


def _peer(request: web.Request) -> str:
    peername = request.transport.get_extra_info("peername") if request.transport else None
    return f"{peername[0]}:{peername[1]}" if peername else ""


@contextlib.contextmanager
def run_fake_upstream() -> Iterator[FakeUpstream]:
    """Starts the fake for the `with` block."""
    fake = FakeUpstream()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def closed_port_url() -> str:
    """A URL on a port nothing listens on (bound, then released), for refused connections."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def unanswered_connect_url() -> Iterator[str]:
    """A URL whose connections hang: a listener that accepts nothing, its queue already full,
    so the kernel drops further connection attempts unanswered (for connect timeouts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=_START_TIMEOUT):
            yield f"http://127.0.0.1:{port}"
