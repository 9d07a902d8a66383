"""The upstream HTTP seam: one pooled aiohttp session per provider account, bounded in time
and in size, behind the `Upstream` protocol the provider families talk to.

Bounds, all per provider account: `timeout_seconds` covers a non-streaming call from
sending the request to the answer's last byte (bytes trickling in do not extend it) and a
stream up to its first byte; `stream_idle_timeout_seconds` then bounds each silence in the
stream, so a long answer that keeps flowing is never cut; `connect_timeout_seconds` bounds
opening a connection. `max_response_bytes` caps an answer, and each event of a stream:
reading stops as soon as it is passed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any, Protocol

import aiohttp
import orjson
from yarl import URL

from core.config.models import ProviderAccount
from core.errors import GatewayError, UpstreamFailed
from core.providers.sse import SseEvent, SseReader
from core.providers.upstream_errors import status_error, too_large_error, transport_error

_DRAIN_SECONDS = 0.1
"""How long a finished stream may take to end its body before the connection is dropped."""

_MAX_ERROR_BODY = 64 * 1024
"""Most of a non-2xx answer read: enough for any provider's error message."""

_KEEPALIVE_SECONDS = 5.0
"""How long an idle pooled connection is kept (httpx's default, which the gateway used
before): shorter than the idle limit of common provider front ends, so the gateway rarely
reuses a connection the provider is closing."""

_MAX_CACHED_URLS = 1024

StatusErrorOf = Callable[..., GatewayError]
"""Turns a non-2xx answer into the gateway error, called as `upstream_errors.status_error`
is (its default): `(status, body, *, label, secrets, headers)`. A family whose errors have
another shape (Bedrock's `x-amzn-ErrorType`) reads them and delegates to the table."""


class Upstream(Protocol):
    """The HTTP operations provider families need; `label` (`account/model`) names errors."""

    async def post_json(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """POSTs `body` as JSON and returns the decoded JSON answer."""
        ...

    def stream_sse(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
    ) -> AbstractAsyncContextManager[AsyncIterator[SseEvent]]:
        """POSTs `body` as JSON and yields the answer's SSE events; leaving closes the response."""
        ...

    async def post_bytes(
        self,
        path: str,
        data: bytes,
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """POSTs `data` exactly as given (e.g. a body signed over its bytes), to `path`
        exactly as given (already percent-encoded), and returns the decoded JSON answer."""
        ...

    def stream_bytes(
        self,
        path: str,
        data: bytes,
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
    ) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """POSTs `data` like `post_bytes` and yields the answer's raw body chunks, under the
        same first-byte and idle bounds as `stream_sse`; the caller frames them and applies
        `max_response_bytes` to each frame. Leaving closes the response."""
        ...

    async def aclose(self) -> None:
        """Closes the connection pool."""
        ...


class HttpUpstream:
    """`Upstream` over one aiohttp session. Build it inside the running loop.

    Plain aiohttp, without httpx in front: `bench/upstream_client.py` measures the two. No
    cookie jar (a provider's cookies mean nothing to a gateway and cost CPU on every
    answer), and every timeout object is built here, once.
    """

    def __init__(
        self,
        account: ProviderAccount,
        *,
        base_url: str,
        auth_headers: Mapping[str, str] | None = None,
        secrets: Sequence[str] = (),
        status_error_of: StatusErrorOf = status_error,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._urls: dict[str, URL] = {}
        self._exact_urls: dict[str, URL] = {}
        self._status_error_of = status_error_of
        self._secrets = tuple(s for s in secrets if s)
        self._timeout = account.timeout_seconds
        self._idle_timeout = account.stream_idle_timeout_seconds
        self._max_bytes = account.max_response_bytes
        self._no_answer = f"did not answer within {self._timeout:g} s (timeout_seconds)"
        self._no_first_byte = f"sent nothing within {self._timeout:g} s (timeout_seconds)"
        self._stalled = (
            f"stream stalled: nothing for {self._idle_timeout:g} s (stream_idle_timeout_seconds)"
        )
        self._no_connection = (
            f"could not be connected to within {account.connect_timeout_seconds:g} s "
            "(connect_timeout_seconds)"
        )
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=account.max_connections,
                limit_per_host=0,
                keepalive_timeout=_KEEPALIVE_SECONDS,
            ),
            headers={**account.headers, **(auth_headers or {}), "content-type": "application/json"},
            # The whole-call and first-byte bounds are asyncio timeouts around each call, so
            # they can tell which bound struck; aiohttp bounds only the socket connect.
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=account.connect_timeout_seconds),
            cookie_jar=aiohttp.DummyCookieJar(),
            # aiohttp asks for gzip/deflate; a compressed answer is capped after inflating.
            auto_decompress=True,
        )

    def _url(self, path: str) -> URL:
        # Parsing a URL costs more than the dict lookup; paths are few (one per operation and
        # Azure deployment), but the cache is bounded all the same.
        url = self._urls.get(path)
        if url is None:
            url = URL(self._base_url + path)
            if len(self._urls) < _MAX_CACHED_URLS:
                self._urls[path] = url
        return url

    def _exact_url(self, path: str) -> URL:
        # A signed request must go out byte for byte as signed: yarl would otherwise decode
        # `%3A` (Bedrock model ids hold `:`) and the signature would no longer match.
        url = self._exact_urls.get(path)
        if url is None:
            url = URL(self._base_url + path, encoded=True)
            if len(self._exact_urls) < _MAX_CACHED_URLS:
                self._exact_urls[path] = url
        return url

    def _failure(
        self, exc: Exception, label: str, *, mid_stream: bool, timed_out: str
    ) -> Exception:
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            timed_out = self._no_connection
        error = transport_error(
            exc, label=label, mid_stream=mid_stream, timed_out=timed_out, secrets=self._secrets
        )
        return exc if error is None else error

    async def _status_error(self, response: aiohttp.ClientResponse, label: str) -> GatewayError:
        # Only the start of an error body is read; the caller then drops the connection.
        body = await _read_at_most(response.content, _MAX_ERROR_BODY)
        return self._status_error_of(
            response.status, body, label=label, secrets=self._secrets, headers=response.headers
        )

    async def post_json(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        raw, _ = await self._post(self._url(path), orjson.dumps(body), label, headers)
        return _decode_json(raw, label)

    async def post_bytes(
        self,
        path: str,
        data: bytes,
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        raw, _ = await self._post(self._exact_url(path), data, label, headers)
        return _decode_json(raw, label)

    async def post_bytes_with_headers(
        self,
        path: str,
        data: bytes,
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Any, Mapping[str, str]]:
        """`post_bytes`, and the answer's headers (looked up case-insensitively): where a
        provider reports what its body does not (Bedrock's InvokeModel token counts)."""
        raw, answer_headers = await self._post(self._exact_url(path), data, label, headers)
        return _decode_json(raw, label), answer_headers

    async def _post(
        self, url: URL, data: bytes, label: str, headers: Mapping[str, str] | None
    ) -> tuple[bytes, Mapping[str, str]]:
        """The whole answer of one POST and its headers, under `timeout_seconds` and
        `max_response_bytes`."""
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._session.post(url, data=data, headers=headers)
                try:
                    if not 200 <= response.status < 300:
                        raise await self._status_error(response, label)
                    return await self._read_answer(response, label), response.headers
                except BaseException:
                    response.close()
                    raise
        except GatewayError:
            raise
        except Exception as exc:
            raise self._failure(exc, label, mid_stream=False, timed_out=self._no_answer) from exc

    async def _read_answer(self, response: aiohttp.ClientResponse, label: str) -> bytes:
        length = response.content_length
        if length is not None and length > self._max_bytes:
            raise too_large_error(label, self._max_bytes)
        if length is not None and "content-encoding" not in response.headers:
            # The parser reads exactly Content-Length bytes, already checked: no need to count.
            return await response.read()
        raw = await _read_at_most(response.content, self._max_bytes + 1)
        if len(raw) > self._max_bytes:
            raise too_large_error(label, self._max_bytes)
        return raw

    async def aclose(self) -> None:
        await self._session.close()

    @asynccontextmanager
    async def stream_sse(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[AsyncIterator[SseEvent]]:
        response, first = await self._open_stream(
            self._url(path), orjson.dumps(body), label, headers
        )
        try:
            _bound_silences(response, self._idle_timeout)
            yield SseReader(
                first,
                response.content.readany,
                max_event_bytes=self._max_bytes,
                on_error=lambda exc: self._failure(
                    exc, label, mid_stream=True, timed_out=self._stalled
                ),
                too_large=lambda: too_large_error(label, self._max_bytes, what="stream event"),
            )
            # The caller stops at the final event ([DONE], message_stop); the body's last
            # chunk may still be in flight, and a body left unread costs the pooled connection.
            await _drain(response.content)
        finally:
            _end_stream(response)

    @asynccontextmanager
    async def stream_bytes(
        self,
        path: str,
        data: bytes,
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        response, first = await self._open_stream(self._exact_url(path), data, label, headers)
        try:
            _bound_silences(response, self._idle_timeout)
            yield _chunks(
                first,
                response.content.readany,
                lambda exc: self._failure(exc, label, mid_stream=True, timed_out=self._stalled),
            )
            await _drain(response.content)
        finally:
            _end_stream(response)

    async def _open_stream(
        self, url: URL, data: bytes, label: str, headers: Mapping[str, str] | None
    ) -> tuple[aiohttp.ClientResponse, bytes]:
        """A 2xx streaming answer and its first bytes, under `timeout_seconds`."""
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._session.post(url, data=data, headers=headers)
                try:
                    if not 200 <= response.status < 300:
                        raise await self._status_error(response, label)
                    return response, await response.content.readany()
                except BaseException:
                    response.close()
                    raise
        except GatewayError:
            raise
        except Exception as exc:
            raise self._failure(
                exc, label, mid_stream=False, timed_out=self._no_first_byte
            ) from exc


def _decode_json(raw: bytes, label: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamFailed(f"{label}: upstream answered a body that is not JSON") from None


async def _chunks(
    first: bytes,
    read: Callable[[], Awaitable[bytes]],
    on_error: Callable[[Exception], Exception],
) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive, up to its end; a failed read raises `on_error`'s."""
    chunk = first
    while chunk:
        yield chunk
        try:
            chunk = await read()
        except Exception as exc:
            raise on_error(exc) from exc


def _end_stream(response: aiohttp.ClientResponse) -> None:
    if response.content.is_eof():
        response.release()
    else:
        # Closing mid-body drops the connection instead of returning it to the pool,
        # so the provider sees the client go away and stops generating.
        response.close()


def _bound_silences(response: aiohttp.ClientResponse, seconds: float) -> None:
    # aiohttp's own per-connection read timer (what `sock_read` sets), switched on once the
    # first byte is in: it restarts on every packet and pauses while the caller is the slow
    # one, which is cheaper and more exact than a timeout around each read.
    connection = response.connection
    if connection is None or connection.protocol is None:
        return  # the whole body is already in; nothing left to wait for
    connection.protocol.read_timeout = seconds
    connection.protocol.start_timeout()


async def _read_at_most(content: aiohttp.StreamReader, limit: int) -> bytes:
    """The body, or its first `limit` bytes or a little more: reading stops once past it."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await content.readany()
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


async def _drain(content: aiohttp.StreamReader) -> None:
    # A body that does not end in time, or breaks, is closed instead, like an early stop.
    if content.is_eof():
        return
    with suppress(Exception):
        async with asyncio.timeout(_DRAIN_SECONDS):
            while await content.readany():
                pass
