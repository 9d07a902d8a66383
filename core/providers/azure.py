"""Azure OpenAI: OpenAI's wire format, addressed by deployment, keyed by `api-key`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

from codec import embed_request_to_json
from core.config.models import ProviderAccount, model_id
from core.providers.base import ChatCall, ChatEvent
from core.providers.openai import openai_chat, openai_embed
from core.providers.transport import HttpUpstream, Upstream
from gateway.v1.route_service_pb2 import EmbedRequest, EmbedResponse

DEFAULT_API_VERSION = "2024-10-21"


class AzureOpenAIProvider:
    """An Azure OpenAI resource; each model name maps to its `deployment` (default: the name)."""

    def __init__(
        self, account: ProviderAccount, api_key: str | None, *, upstream: Upstream | None = None
    ) -> None:
        self._account = account.name
        self._deployments = {m.name: m.deployment or m.name for m in account.models}
        self._query = f"api-version={quote(account.api_version or DEFAULT_API_VERSION, safe='')}"
        # The config validator guarantees base_url for azure-openai.
        base_url = (account.base_url or "").rstrip("/")
        self._upstream: Upstream = upstream or HttpUpstream(
            account,
            base_url=f"{base_url}/openai/deployments",
            auth_headers={"api-key": api_key} if api_key else None,
            secrets=(api_key,) if api_key else (),
        )

    def _path(self, model: str, operation: str) -> str:
        deployment = quote(self._deployments.get(model, model), safe="")
        return f"/{deployment}/{operation}?{self._query}"

    def chat(self, call: ChatCall) -> AsyncIterator[ChatEvent]:
        # Azure picks the model by deployment, so the body carries none.
        path = self._path(call.model, "chat/completions")
        return openai_chat(self._upstream, path, call, with_model=False)

    async def embed(self, request: EmbedRequest, model: str) -> EmbedResponse:
        body = embed_request_to_json(request)
        body.pop("model", None)
        path = self._path(model, "embeddings")
        return await openai_embed(self._upstream, path, body, model_id(self._account, model))

    async def aclose(self) -> None:
        await self._upstream.aclose()
