"""Every HTTP answer carries `x-request-id`, errors included, so a client can always quote
one (the OpenAI SDK reads it into `exc.request_id`).

An answer core gave carries core's id, the id of the call's log record: on success in the
answer's headers, on failure in the error's trailing metadata (facade/errors.py). This
outermost layer stamps every other answer, those the facade gave without calling core (a body
it refused, an unknown URL, a 431): with the caller's own `x-request-id` when it is usable,
else a fresh id. No log record has that id: nothing reached core to be logged.
"""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facade.inputs import usable_request_id

__all__ = ["REQUEST_ID_HEADER", "RequestIds"]

REQUEST_ID_HEADER = b"x-request-id"


class RequestIds:
    """ASGI middleware adding `x-request-id` to every HTTP answer that has none."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers") or []
                # ASGI header names are lower-case bytes (Starlette's responses make them so).
                if not any(name == REQUEST_ID_HEADER for name, _ in headers):
                    stamp = (REQUEST_ID_HEADER, _request_id(scope).encode("latin-1"))
                    message = {**message, "headers": [*headers, stamp]}
            await send(message)

        await self.app(scope, receive, stamped)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            usable = usable_request_id(value.decode("latin-1"))
            if usable is not None:
                return usable
            break
    return uuid.uuid4().hex
