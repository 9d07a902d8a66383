"""Anthropic's Messages API, translated to and from the gateway's OpenAI-shaped protos."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from core.config.models import ProviderAccount
from core.errors import InvalidRequest, UpstreamFailed, UpstreamStreamCut
from core.providers.anthropic_request import messages_body
from core.providers.anthropic_response import AnthropicStream, result_from_message
from core.providers.base import ChatCall, ChatEvent
from core.providers.transport import HttpUpstream, Upstream
from core.providers.upstream_errors import stream_error_message
from gateway.v1.route_service_pb2 import EmbedRequest, EmbedResponse

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_API_VERSION = "2023-06-01"
_PATH = "/v1/messages"
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError)
"""What reading an answer of an unexpected shape raises."""


class AnthropicProvider:
    """An Anthropic account: `x-api-key` and `anthropic-version` on every request."""

    def __init__(
        self, account: ProviderAccount, api_key: str | None, *, upstream: Upstream | None = None
    ) -> None:
        headers = {"anthropic-version": account.api_version or DEFAULT_API_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        self._upstream: Upstream = upstream or HttpUpstream(
            account,
            base_url=account.base_url or DEFAULT_BASE_URL,
            auth_headers=headers,
            secrets=(api_key,) if api_key else (),
        )

    async def chat(self, call: ChatCall) -> AsyncIterator[ChatEvent]:
        body = messages_body(call.params, call.model, stream=call.stream)
        if not call.stream:
            answer = await self._upstream.post_json(_PATH, body, label=call.label)
            try:
                result = result_from_message(answer)
            except _MALFORMED as exc:
                raise UpstreamFailed(f"{call.label}: upstream answered an unexpected body") from exc
            yield result
            return

        stream = AnthropicStream()
        async with self._upstream.stream_sse(_PATH, body, label=call.label) as events:
            async for name, data in events:
                event = _decode_event(name, data, call)
                try:
                    delta = stream.feed(event)
                except _MALFORMED as exc:
                    raise UpstreamFailed(
                        f"{call.label}: upstream sent an unexpected event"
                    ) from exc
                if delta is not None:
                    yield delta
                if stream.stopped:
                    break
        if not stream.stopped:
            raise UpstreamStreamCut(f"{call.label}: upstream stream ended without message_stop")
        yield stream.result()

    async def embed(self, request: EmbedRequest, model: str) -> EmbedResponse:
        raise InvalidRequest("anthropic accounts have no embeddings models", param="model")

    async def aclose(self) -> None:
        await self._upstream.aclose()


def _decode_event(name: str | None, data: str, call: ChatCall) -> dict[str, Any]:
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamFailed(
            f"{call.label}: upstream sent a stream event that is not JSON"
        ) from None
    if not isinstance(event, dict):
        raise UpstreamFailed(f"{call.label}: upstream sent a stream event that is not an object")
    if name == "error" or event.get("type") == "error":
        raise UpstreamFailed(
            f"{call.label}: upstream failed mid-stream: {stream_error_message(event)}"
        )
    return event
