"""Gemini models on Google Cloud's Vertex AI: the Gemini API's request and answers, a
project-and-region URL, and an OAuth bearer token instead of an API key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from functools import partial
from typing import Any

from core.config.models import ProviderAccount, model_id
from core.errors import UpstreamFailed
from core.providers.base import ChatCall, ChatEvent
from core.providers.bounded import gather_bounded
from core.providers.gemini import generate
from core.providers.gemini_embed import (
    BATCH_CONCURRENCY,
    batches,
    embed_options,
    embed_texts,
    embed_usage,
    estimated_tokens,
    vectors,
)
from core.providers.google_token import Credentials, TokenSource, load_credentials, utc_now
from core.providers.transport import HttpUpstream, Upstream
from gateway.v1.route_service_pb2 import EmbedRequest, EmbedResponse

DEFAULT_API_VERSION = "v1"
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError)
# `:predict` embedding options (OpenAI-style name -> the instance's field).
_EMBED_EXTRAS = {"task_type": "task_type", "taskType": "task_type", "title": "title"}
# Texts per `:predict` call: Vertex refuses more instances (or, for the text-embedding
# models, more than 20,000 tokens) in one request.
_GEMINI_EMBED_BATCH = 1
"""gemini-embedding-001 takes a single instance per request."""
_EMBED_BATCH = 250
_EMBED_BATCH_TOKENS = 20_000


def vertex_base_url(location: str) -> str:
    """Vertex's endpoint for a region; the `global` location has no regional host."""
    if location == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


class VertexProvider:
    """A Vertex AI account: Gemini (and embedding) models of Google's publisher catalogue."""

    def __init__(
        self,
        account: ProviderAccount,
        *,
        upstream: Upstream | None = None,
        credentials: Credentials | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if not (account.project and account.location):
            raise ValueError("project and location are required for vertex")
        self._account = account.name
        version = account.api_version or DEFAULT_API_VERSION
        self._prefix = (
            f"/{version}/projects/{account.project}/locations/{account.location}"
            "/publishers/google/models"
        )
        self._upstream: Upstream = upstream or HttpUpstream(
            account, base_url=account.base_url or vertex_base_url(account.location)
        )
        credentials_file = account.credentials_file

        def load() -> Credentials:
            return credentials if credentials is not None else load_credentials(credentials_file)

        self._tokens = TokenSource(
            load, label=account.name, timeout_seconds=account.timeout_seconds, clock=clock
        )

    async def _headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {await self._tokens.token()}"}

    def chat(self, call: ChatCall) -> AsyncIterator[ChatEvent]:
        return generate(
            self._upstream, f"{self._prefix}/{call.model}", call, vertex=True, auth=self._headers
        )

    async def embed(self, request: EmbedRequest, model: str) -> EmbedResponse:
        label = model_id(self._account, model)
        texts = embed_texts(request, "vertex")
        options = embed_options(request, _EMBED_EXTRAS, "vertex")
        parameters = (
            {"outputDimensionality": request.dimensions} if request.HasField("dimensions") else {}
        )
        path = f"{self._prefix}/{model}:predict"

        async def embed_batch(batch: list[str]) -> tuple[list[list[float]], int]:
            body: dict[str, Any] = {"instances": [{"content": text, **options} for text in batch]}
            if parameters:
                body["parameters"] = parameters
            answer = await self._upstream.post_json(
                path, body, label=label, headers=await self._headers()
            )
            try:
                embeddings = [item["embeddings"] for item in answer["predictions"]]
                values = [list(item["values"]) for item in embeddings]
                counts = [(item.get("statistics") or {}).get("token_count") for item in embeddings]
            except _MALFORMED as exc:
                raise UpstreamFailed(f"{label}: upstream answered an unexpected body") from exc
            if len(values) != len(batch):
                raise UpstreamFailed(f"{label}: upstream answered {len(values)} embeddings")
            numbers = [count for count in counts if isinstance(count, int | float)]
            tokens = int(sum(numbers)) if len(numbers) == len(counts) else None
            return values, tokens if tokens is not None else estimated_tokens(batch)

        if "gemini-embedding" in model:
            cut = batches(texts, size=_GEMINI_EMBED_BATCH)
        else:
            cut = batches(texts, size=_EMBED_BATCH, max_tokens=_EMBED_BATCH_TOKENS)
        answers = await gather_bounded(
            [partial(embed_batch, batch) for batch in cut], BATCH_CONCURRENCY
        )
        values = [vector for batch_values, _ in answers for vector in batch_values]
        usage = embed_usage(sum(tokens for _, tokens in answers))
        return EmbedResponse(embeddings=vectors(values), model=request.model, usage=usage)

    async def aclose(self) -> None:
        await self._tokens.aclose()
        await self._upstream.aclose()
