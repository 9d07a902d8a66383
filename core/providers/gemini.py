"""Google's Gemini API (an API key), and the generateContent exchange Vertex AI shares."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from functools import partial
from typing import Any

import orjson

from core.config.models import ProviderAccount, model_id
from core.errors import UpstreamFailed, UpstreamStreamCut
from core.providers.base import ChatCall, ChatEvent
from core.providers.bounded import gather_bounded
from core.providers.gemini_embed import (
    BATCH_CONCURRENCY,
    batches,
    embed_options,
    embed_texts,
    embed_usage,
    estimated_tokens,
    vectors,
)
from core.providers.gemini_request import generate_body
from core.providers.gemini_response import GeminiAnswer
from core.providers.transport import HttpUpstream, Upstream
from core.providers.upstream_errors import stream_error_message
from gateway.v1.route_service_pb2 import EmbedRequest, EmbedResponse

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
DEFAULT_API_VERSION = "v1beta"
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError)
"""What reading an answer of an unexpected shape raises."""

# Embedding request extras Gemini takes (OpenAI-style name -> wire name).
_EMBED_EXTRAS = {"task_type": "taskType", "taskType": "taskType", "title": "title"}
_EMBED_BATCH = 100
"""Texts per `batchEmbedContents`: the Gemini API refuses a batch of more requests."""

AuthHeaders = Callable[[], Awaitable[Mapping[str, str]]]
"""Headers that authenticate one call, asked for once its request is known to be valid."""


async def generate(
    upstream: Upstream,
    model_path: str,
    call: ChatCall,
    *,
    vertex: bool = False,
    auth: AuthHeaders | None = None,
) -> AsyncIterator[ChatEvent]:
    """Runs a generateContent call at `model_path` (`.../models/<model>`): deltas when
    streaming, then one ChatResult. Shared by the Gemini API and Vertex AI (`vertex`)."""
    body = generate_body(call.params, call.model, vertex=vertex)
    # After the body: a request refused as invalid never waits for (or fails on) a token.
    headers = await auth() if auth is not None else None
    answer = GeminiAnswer()
    if not call.stream:
        raw = await upstream.post_json(
            f"{model_path}:generateContent", body, label=call.label, headers=headers
        )
        try:
            answer.feed(raw)
        except _MALFORMED as exc:
            raise UpstreamFailed(f"{call.label}: upstream answered an unexpected body") from exc
        if not answer.finished:
            raise UpstreamFailed(f"{call.label}: upstream answered without a finishReason")
        yield answer.result()
        return

    path = f"{model_path}:streamGenerateContent?alt=sse"
    async with upstream.stream_sse(path, body, label=call.label, headers=headers) as events:
        async for _, data in events:
            chunk = _decode_chunk(data, call)
            try:
                deltas = answer.feed(chunk)
            except _MALFORMED as exc:
                raise UpstreamFailed(f"{call.label}: upstream sent an unexpected chunk") from exc
            for delta in deltas:
                yield delta
    # Gemini's stream has no terminator: it is whole when every candidate has finished.
    if not answer.finished:
        raise UpstreamStreamCut(f"{call.label}: upstream stream ended without a finishReason")
    yield answer.result()


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


class GeminiProvider:
    """A Gemini API account: the key travels in `x-goog-api-key` on every request."""

    def __init__(
        self, account: ProviderAccount, api_key: str | None, *, upstream: Upstream | None = None
    ) -> None:
        self._account = account.name
        self._version = account.api_version or DEFAULT_API_VERSION
        self._upstream: Upstream = upstream or HttpUpstream(
            account,
            base_url=account.base_url or DEFAULT_BASE_URL,
            auth_headers={"x-goog-api-key": api_key} if api_key else None,
            secrets=(api_key,) if api_key else (),
        )

    def _model_path(self, model: str) -> str:
        return f"/{self._version}/models/{model}"

    def chat(self, call: ChatCall) -> AsyncIterator[ChatEvent]:
        return generate(self._upstream, self._model_path(call.model), call)

    async def embed(self, request: EmbedRequest, model: str) -> EmbedResponse:
        label = model_id(self._account, model)
        texts = embed_texts(request, "gemini")
        options: dict[str, Any] = {}
        if request.HasField("dimensions"):
            options["outputDimensionality"] = request.dimensions
        options.update(embed_options(request, _EMBED_EXTRAS, "gemini"))
        path = f"{self._model_path(model)}:batchEmbedContents"

        async def embed_batch(batch: list[str]) -> tuple[list[list[float]], int]:
            body = {
                "requests": [
                    {"model": f"models/{model}", "content": {"parts": [{"text": text}]}, **options}
                    for text in batch
                ]
            }
            answer = await self._upstream.post_json(path, body, label=label)
            try:
                values = [list(item["values"]) for item in answer["embeddings"]]
                metadata = answer.get("usageMetadata") or {}
            except _MALFORMED as exc:
                raise UpstreamFailed(f"{label}: upstream answered an unexpected body") from exc
            if len(values) != len(batch):
                raise UpstreamFailed(f"{label}: upstream answered {len(values)} embeddings")
            tokens = metadata.get("promptTokenCount") if isinstance(metadata, dict) else None
            return values, tokens if isinstance(tokens, int) else estimated_tokens(batch)

        answers = await gather_bounded(
            [partial(embed_batch, batch) for batch in batches(texts, size=_EMBED_BATCH)],
            BATCH_CONCURRENCY,
        )
        values = [vector for batch_values, _ in answers for vector in batch_values]
        usage = embed_usage(sum(tokens for _, tokens in answers))
        return EmbedResponse(embeddings=vectors(values), model=request.model, usage=usage)

    async def aclose(self) -> None:
        await self._upstream.aclose()
