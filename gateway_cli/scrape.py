"""Prometheus scrapes: `GET /metrics` on the HTTP port, and GATEWAY_METRICS_PORT (every path).

Open by default, as Prometheus expects and as deploy/ scrapes. With GATEWAY_METRICS_TOKEN set,
a scrape must send `Authorization: Bearer <token>` (Prometheus: `authorization:
{credentials_file: ...}`); anything else is a 401 in the gateway's error shape. The token is a
secret of its own, not an API key, so a scraper's config holds a credential that reads
counters and nothing else.
"""

from __future__ import annotations

import hmac
import socket
import threading
from collections.abc import Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import orjson
from prometheus_client import CollectorRegistry, make_asgi_app, make_wsgi_app
from starlette.types import ASGIApp, Receive, Scope, Send

from facade.errors import error_body

__all__ = ["METRICS_PATH", "ScrapeGuard", "serve_metrics_port", "with_metrics"]

METRICS_PATH = "/metrics"
_REFUSAL = orjson.dumps(
    error_body(
        401,
        "Missing or wrong metrics token: send 'Authorization: Bearer <GATEWAY_METRICS_TOKEN>'.",
        code="invalid_metrics_token",
    )
)
_REFUSAL_HEADERS = (
    ("content-type", "application/json"),
    ("content-length", str(len(_REFUSAL))),
    ("www-authenticate", 'Bearer realm="metrics"'),
)


class ScrapeGuard:
    """Decides whether a scrape may read the metrics: always when no token is configured."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode() if token else None

    @property
    def open(self) -> bool:
        """True when no token is configured: anyone who reaches the port may scrape."""
        return self._token is None

    def allows(self, authorization: bytes | None) -> bool:
        """Whether the raw `Authorization` header value carries the token."""
        if self._token is None:
            return True
        scheme, _, credentials = (authorization or b"").strip().partition(b" ")
        # Bytes, not str: compare_digest refuses non-ASCII text, and a header may hold some.
        return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self._token)


def with_metrics(app: ASGIApp, registry: CollectorRegistry, guard: ScrapeGuard) -> ASGIApp:
    """`app`, with `GET /metrics` (exactly, no redirect) answered from `registry`."""
    metrics = make_asgi_app(registry=registry)

    async def composed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != METRICS_PATH:
            await app(scope, receive, send)
        elif guard.allows(_asgi_authorization(scope)):
            await metrics(scope, receive, send)
        else:
            headers = [(k.encode(), v.encode()) for k, v in _REFUSAL_HEADERS]
            await send({"type": "http.response.start", "status": 401, "headers": headers})
            await send({"type": "http.response.body", "body": _REFUSAL})

    return composed


def _asgi_authorization(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value)
    return None


def serve_metrics_port(
    host: str, port: int, registry: CollectorRegistry, guard: ScrapeGuard
) -> WSGIServer:
    """Serves `registry` on its own port from a daemon thread; `shutdown()` stops it."""
    exposition = make_wsgi_app(registry)

    def guarded(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        # WSGI hands header values over as latin-1 text: encoding gives the bytes back.
        authorization = environ.get("HTTP_AUTHORIZATION")
        if guard.allows(None if authorization is None else authorization.encode("latin-1")):
            body: Iterable[bytes] = exposition(environ, start_response)
            return body
        start_response("401 Unauthorized", list(_REFUSAL_HEADERS))
        return [_REFUSAL]

    family, address = _family(host, port)

    class Server(_ThreadingServer):
        address_family = family

    server = make_server(address, port, guarded, Server, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="metrics-port", daemon=True).start()
    return server


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    # One thread per scrape, never joined: a slow scraper cannot hold up shutdown.
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Logs nothing: a line per scrape is noise."""


def _family(host: str, port: int) -> tuple[socket.AddressFamily, str]:
    # WSGIServer binds IPv4 unless told otherwise; an IPv6 host needs AF_INET6.
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    return family, str(address[0])
