"""The upstream seam Bedrock needs: `Upstream`, plus a POST that also returns the answer's
headers, where InvokeModel reports the tokens it counted (`X-Amzn-Bedrock-Input-Token-Count`;
Cohere's embedding body carries no count at all). `HttpUpstream` provides it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from core.providers.transport import Upstream


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
        """`post_bytes`, and the answer's headers (looked up case-insensitively)."""
        ...
