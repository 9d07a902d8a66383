"""The protocol every provider family implements, and the call it receives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from core.config.models import model_id
from gateway.v1.chat_pb2 import ChatDelta, ChatParams, ChatResult
from gateway.v1.route_service_pb2 import EmbedRequest, EmbedResponse

ChatEvent = ChatDelta | ChatResult
"""What a provider yields: deltas (streaming only), then exactly one ChatResult."""


@dataclass(frozen=True, slots=True)
class ChatCall:
    """One chat completion for one provider account."""

    params: ChatParams
    """The request as the caller sent it; `params.model` is still `account/model`."""
    account: str
    """Provider account name, e.g. `openai-main`."""
    model: str
    """Model name the provider knows, e.g. `gpt-4o` (the part after `account/`)."""
    stream: bool
    """Whether to stream from the provider; when False yield only the ChatResult."""

    @property
    def label(self) -> str:
        """`account/model`, used in error messages."""
        return model_id(self.account, self.model)


class Provider(Protocol):
    """A provider account: one pooled upstream client, created at start-up."""

    def chat(self, call: ChatCall) -> AsyncIterator[ChatEvent]:
        """Runs a chat completion.

        Yields ChatDelta events when `call.stream` is set, then exactly one ChatResult whose
        choices hold the assembled messages, finish reasons, and usage (always counted).
        Raises core.errors.Upstream* errors naming `call.label`; a stream that ends before
        the provider's final event raises UpstreamStreamCut.
        """
        ...

    async def embed(self, request: EmbedRequest, model: str) -> EmbedResponse:
        """Embeds `request.inputs` with `model` (the name the provider knows)."""
        ...

    async def aclose(self) -> None:
        """Closes the upstream connection pool."""
        ...
