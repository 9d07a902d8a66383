"""Google's Gemini API (an API key), and the generateContent exchange Vertex AI shares."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson

from core.config.models import ProviderAccount, model_id
from core.errors import InvalidRequest, UpstreamFailed, UpstreamStreamCut
from core.providers.base import ChatCall, ChatEvent
from core.providers.gemini_request import generate_body
from core.providers.gemini_response import GeminiAnswer
from core.providers.transport import HttpUpstream, Upstream
from core.providers.upstream_errors import stream_error_message
from gateway.v1.chat_pb2 import Usage
from gateway.v1.route_service_pb2 import Embedding, EmbedRequest, EmbedResponse

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
DEFAULT_API_VERSION = "v1beta"
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError)
"""What reading an answer of an unexpected shape raises."""

_CHARS_PER_TOKEN = 4
# Embedding request extras Gemini takes (OpenAI-style name -> wire name); the facade always
# re-encodes vectors itself, so `encoding_format` changes nothing upstream.
_EMBED_EXTRAS = {"task_type": "taskType", "taskType": "taskType", "title": "title"}
_EMBED_NO_EFFECT = frozenset({"encoding_format"})
"""Embedding request extras that change nothing a Google embedding model returns (the facade
encodes the floats itself)."""


async def generate(
    upstream: Upstream,
    model_path: str,
    call: ChatCall,
    *,
    headers: Mapping[str, str] | None = None,
) -> AsyncIterator[ChatEvent]:
    """Runs a generateContent call at `model_path` (`.../models/<model>`): deltas when
    streaming, then one ChatResult. Shared by the Gemini API and Vertex AI."""
    body = generate_body(call.params, call.model)
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


def embed_texts(request: EmbedRequest, family: str) -> list[str]:
    """The texts to embed; token-id inputs are refused, as Google models take only text."""
    if "input" in request.extras.fields:
        raise InvalidRequest(
            f"{family} embedding models take text, not token arrays", param="input"
        )
    return list(request.inputs)


def estimated_usage(texts: list[str]) -> Usage:
    """A token estimate for embeddings whose answer reports none (about four characters a
    token): usage is always counted, for budgets and cost."""
    tokens = sum(len(text) // _CHARS_PER_TOKEN + 1 for text in texts if text)
    return Usage(input_tokens=tokens, total_tokens=tokens)


def vectors(values: list[list[float]]) -> list[Embedding]:
    return [Embedding(index=i, values=vector) for i, vector in enumerate(values)]


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
        for key, value in embed_options(request, _EMBED_EXTRAS, "gemini").items():
            options[key] = value
        body = {
            "requests": [
                {"model": f"models/{model}", "content": {"parts": [{"text": text}]}, **options}
                for text in texts
            ]
        }
        answer = await self._upstream.post_json(
            f"{self._model_path(model)}:batchEmbedContents", body, label=label
        )
        try:
            values = [list(item["values"]) for item in answer["embeddings"]]
            metadata = answer.get("usageMetadata") or {}
        except _MALFORMED as exc:
            raise UpstreamFailed(f"{label}: upstream answered an unexpected body") from exc
        if len(values) != len(texts):
            raise UpstreamFailed(f"{label}: upstream answered {len(values)} embeddings")
        tokens = metadata.get("promptTokenCount") if isinstance(metadata, dict) else None
        usage = (
            Usage(input_tokens=int(tokens), total_tokens=int(tokens))
            if isinstance(tokens, int)
            else estimated_usage(texts)
        )
        return EmbedResponse(embeddings=vectors(values), model=request.model, usage=usage)

    async def aclose(self) -> None:
        await self._upstream.aclose()


def embed_options(request: EmbedRequest, names: Mapping[str, str], family: str) -> dict[str, Any]:
    """The request's embedding options by their wire `names` (`task_type`, `title`); 400 for
    any other extra, which `family` embedding models would not apply."""
    options: dict[str, Any] = {}
    for key, value in request.extras.fields.items():
        if key in _EMBED_NO_EFFECT or value.WhichOneof("kind") == "null_value":
            continue
        wire = names.get(key)
        if wire is None:
            raise InvalidRequest(f"{key} is not supported by {family} embedding models", param=key)
        options[wire] = value.string_value
    return options
