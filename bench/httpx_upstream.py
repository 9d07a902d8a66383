"""The upstream client the gateway used before plain aiohttp: httpx over httpx-aiohttp's
transport, as it was (one pooled `httpx.AsyncClient` per account, the same SSE parsing).
Kept only so `bench/upstream_client.py` can measure the two side by side; the error mapping
and bounds of the real client are left out, as they cost nothing on the happy path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Any

import httpx
import orjson
from httpx_aiohttp import AiohttpTransport

from core.config.models import ProviderAccount
from core.providers.sse import SseEvent, SseReader
from core.providers.upstream_errors import status_error, too_large_error


class HttpxUpstream:
    """`core.providers.transport.Upstream` over httpx with the aiohttp transport."""

    def __init__(self, account: ProviderAccount, *, base_url: str) -> None:
        self._max_bytes = account.max_response_bytes
        limits = httpx.Limits(
            max_connections=account.max_connections,
            max_keepalive_connections=account.max_connections,
        )
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={**account.headers, "content-type": "application/json"},
            timeout=httpx.Timeout(account.timeout_seconds, connect=account.connect_timeout_seconds),
            transport=AiohttpTransport(limits=limits),
        )

    async def post_json(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        response = await self._client.post(path, content=orjson.dumps(body), headers=headers)
        if not 200 <= response.status_code < 300:
            raise status_error(response.status_code, response.content, label=label)
        return orjson.loads(response.content)

    @asynccontextmanager
    async def stream_sse(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[AsyncIterator[SseEvent]]:
        request = self._client.build_request(
            "POST", path, content=orjson.dumps(body), headers=headers
        )
        response = await self._client.send(request, stream=True)
        chunks = response.aiter_bytes()

        async def read() -> bytes:
            return await anext(chunks, b"")

        try:
            if not 200 <= response.status_code < 300:
                raise status_error(response.status_code, await response.aread(), label=label)
            yield SseReader(
                b"",
                read,
                max_event_bytes=self._max_bytes,
                on_error=lambda exc: exc,
                too_large=lambda: too_large_error(label, self._max_bytes),
            )
            with suppress(Exception):
                async for _ in chunks:
                    pass
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()
