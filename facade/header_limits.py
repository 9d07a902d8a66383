"""A cap on the total size of a request's headers: 431 in OpenAI's envelope above 64 KiB.

uvicorn's default parser (httptools) accepts headers of any size, and with h11 its 16 KiB
limit answers a bare text 400; so the facade checks them itself, as the outermost layer of
the app, before the key, the request id or `X-TFY-METADATA` is read. 64 KiB is well above what
real clients send (SDKs and browsers stay under 8 KiB; nginx and Node refuse more than 32 and
16 KiB) and above the largest valid `X-TFY-METADATA` in plain ASCII (64 keys and values of 128
characters: about 17 KB), so core, not this cap, names the key of a metadata header at fault.

uvicorn has read the whole head into memory by the time the app runs; this cap keeps big
headers away from the gateway's logic and store, not from the server's memory.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from facade.errors import error_response

__all__ = ["MAX_HEADER_BYTES", "HeaderLimit"]

MAX_HEADER_BYTES = 64 * 1024
"""Largest total of `name: value\\r\\n` over a request's headers."""


class HeaderLimit:
    """ASGI middleware answering 431 when a request's headers total more than `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # As on the wire: each header is `name: value` and a CRLF.
            size = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
            if size > self.max_bytes:
                response = error_response(
                    431,
                    f"The request headers total {size} bytes, more than the limit of "
                    f"{self.max_bytes} bytes.",
                    code="request_headers_too_large",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
