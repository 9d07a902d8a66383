"""The upstream seam for Bedrock, plus one thing the shared transport does not return: an
answer's headers, where InvokeModel reports the tokens it counted
(`X-Amzn-Bedrock-Input-Token-Count`); Cohere's embedding body carries no count at all.

`HttpUpstream.post_bytes` returns only the decoded body. Until the shared `Upstream` can
return headers too, `BedrockHttpUpstream` reads them where the transport reads each answer
(`_read_answer`) into a per-call slot: a ContextVar, so concurrent calls (each its own task)
never see each other's. The Cohere batch test checks the counts from the header, so a
transport change that bypasses the hook fails it instead of quietly falling back to estimates.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, Protocol

import aiohttp

from core.providers.transport import HttpUpstream, Upstream

_ANSWER_HEADERS: ContextVar[dict[str, str] | None] = ContextVar(
    "bedrock_answer_headers", default=None
)


class BedrockUpstream(Upstream, Protocol):
    """`Upstream` with a POST that also returns the answer's headers."""

    async def post_bytes_with_headers(
        self,
        path: str,
        data: bytes,
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Any, Mapping[str, str]]:
        """`post_bytes`, and the answer's headers (names in lower case)."""
        ...


class BedrockHttpUpstream(HttpUpstream):
    """`HttpUpstream` that can also hand back the headers of a 2xx answer."""

    async def post_bytes_with_headers(
        self,
        path: str,
        data: bytes,
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Any, Mapping[str, str]]:
        captured: dict[str, str] = {}
        token = _ANSWER_HEADERS.set(captured)
        try:
            answer = await self.post_bytes(path, data, label=label, headers=headers)
        finally:
            _ANSWER_HEADERS.reset(token)
        return answer, captured

    async def _read_answer(self, response: aiohttp.ClientResponse, label: str) -> bytes:
        captured = _ANSWER_HEADERS.get()
        if captured is not None:
            captured.update((name.lower(), value) for name, value in response.headers.items())
        return await super()._read_answer(response, label)
