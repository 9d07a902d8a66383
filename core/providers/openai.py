"""OpenAI and every OpenAI-compatible server (vLLM, Ollama, Groq, Together: a base URL away).

The wire functions here (`chat_body`, `openai_chat`, `openai_embed`) serve Azure OpenAI too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from codec import (
    chat_params_to_json,
    chat_result_from_json,
    embed_request_to_json,
    embed_response_from_json,
    parse_chunk_json,
)
from core.config.models import ProviderAccount, model_id
from core.errors import UpstreamFailed, UpstreamStreamCut
from core.providers.assembler import StreamAssembler
from core.providers.base import ChatCall, ChatEvent
from core.providers.transport import HttpUpstream, Upstream
from core.providers.upstream_errors import stream_error_message
from gateway.v1.chat_pb2 import Usage
from gateway.v1.route_service_pb2 import EmbedRequest, EmbedResponse

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def chat_body(call: ChatCall, *, with_model: bool = True) -> dict[str, Any]:
    """The request as OpenAI JSON for `call.model`, with the stream flags the gateway needs."""
    body: dict[str, Any] = chat_params_to_json(call.params)
    if with_model:
        body["model"] = call.model
    else:
        body.pop("model", None)
    if call.stream:
        # Usage is always counted, so ask for it whatever the client asked.
        options = body.get("stream_options")
        body["stream"] = True
        body["stream_options"] = {
            **(options if isinstance(options, dict) else {}),
            "include_usage": True,
        }
    else:
        body["stream"] = False
        body.pop("stream_options", None)
    return body


async def openai_chat(
    upstream: Upstream, path: str, call: ChatCall, *, with_model: bool = True
) -> AsyncIterator[ChatEvent]:
    """Runs an OpenAI-wire chat completion: deltas when streaming, then one ChatResult."""
    body = chat_body(call, with_model=with_model)
    if not call.stream:
        answer = await upstream.post_json(path, body, label=call.label)
        if isinstance(answer, dict) and "error" in answer and "choices" not in answer:
            # Some OpenAI-compatible servers report failures with a 200.
            raise UpstreamFailed(f"{call.label}: upstream failed: {stream_error_message(answer)}")
        try:
            result = chat_result_from_json(answer)
        except (ValueError, TypeError, KeyError) as exc:
            raise UpstreamFailed(f"{call.label}: upstream answered an unexpected body") from exc
        yield result
        return

    assembler = StreamAssembler()
    usage: Usage | None = None
    head: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    done = False
    async with upstream.stream_sse(path, body, label=call.label) as events:
        async for _, data in events:
            if data == "[DONE]":
                done = True
                break
            chunk = _decode_chunk(data, call)
            if not head:
                head = {"id": chunk.get("id", ""), "model": chunk.get("model", "")}
            try:
                parsed = parse_chunk_json(chunk)
            except (ValueError, TypeError, KeyError) as exc:
                raise UpstreamFailed(f"{call.label}: upstream sent an unexpected chunk") from exc
            # The codec drops empty deltas (finish-only chunks): no streamed message for nothing.
            for delta in parsed.deltas:
                assembler.add(delta)
                yield delta
            for index, reason in parsed.finish_reasons.items():
                assembler.finish(index, reason)
            if parsed.usage is not None:
                usage = parsed.usage
            extras.update(parsed.extras)
    if not done:
        raise UpstreamStreamCut(f"{call.label}: upstream stream ended without [DONE]")
    # OpenAI pads each chunk with random `obfuscation` text; it means nothing in a result.
    extras.pop("obfuscation", None)
    if not assembler.finished:
        raise UpstreamStreamCut(f"{call.label}: upstream stream ended without a finish reason")
    yield assembler.result(
        usage or Usage(),
        id=str(head.get("id") or ""),
        model=str(head.get("model") or ""),
        extras=extras,
    )


def _decode_chunk(data: str, call: ChatCall) -> dict[str, Any]:
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamFailed(
            f"{call.label}: upstream sent a stream event that is not JSON"
        ) from None
    if not isinstance(chunk, dict):
        raise UpstreamFailed(f"{call.label}: upstream sent a stream event that is not an object")
    if "error" in chunk:
        raise UpstreamFailed(
            f"{call.label}: upstream failed mid-stream: {stream_error_message(chunk)}"
        )
    return chunk


async def openai_embed(
    upstream: Upstream, path: str, body: dict[str, Any], label: str
) -> EmbedResponse:
    """Runs an OpenAI-wire embeddings call."""
    answer = await upstream.post_json(path, body, label=label)
    try:
        return embed_response_from_json(answer)
    except (ValueError, TypeError, KeyError) as exc:
        raise UpstreamFailed(f"{label}: upstream answered an unexpected body") from exc


class OpenAIProvider:
    """An OpenAI or OpenAI-compatible account; `Authorization: Bearer` only when a key is set."""

    def __init__(
        self, account: ProviderAccount, api_key: str | None, *, upstream: Upstream | None = None
    ) -> None:
        self._account = account.name
        self._upstream: Upstream = upstream or HttpUpstream(
            account,
            base_url=account.base_url or DEFAULT_BASE_URL,
            auth_headers={"authorization": f"Bearer {api_key}"} if api_key else None,
            secrets=(api_key,) if api_key else (),
        )

    def chat(self, call: ChatCall) -> AsyncIterator[ChatEvent]:
        return openai_chat(self._upstream, "/chat/completions", call)

    async def embed(self, request: EmbedRequest, model: str) -> EmbedResponse:
        body = embed_request_to_json(request)
        body["model"] = model
        return await openai_embed(
            self._upstream, "/embeddings", body, model_id(self._account, model)
        )

    async def aclose(self) -> None:
        await self._upstream.aclose()
