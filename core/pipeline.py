"""The one chat pipeline behind Route and StreamRoute: validate, resolve, call, stamp.

Later stages (rate limits, load balancing, fallback, logging) hang on `ChatPipeline.start`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from core.access import ensure_model_allowed
from core.auth import Principal
from core.errors import InvalidRequest
from core.models import ModelRegistry
from core.providers.base import ChatCall, ChatEvent
from gateway.v1.chat_pb2 import ROLE_UNSPECIFIED, ChatParams, ChatResult


@dataclass(frozen=True, slots=True)
class ChatRun:
    """A started chat call: the model that answers and its events."""

    completion_id: str
    resolved_model: str
    provider_account: str
    events: AsyncIterator[ChatEvent]


class ChatPipeline:
    """Runs chat completions against the registry's providers."""

    def __init__(self, models: ModelRegistry) -> None:
        self._models = models

    def start(
        self, params: ChatParams, *, request_id: str, stream: bool, principal: Principal
    ) -> ChatRun:
        """Validates and routes a request; the provider is called when `events` is iterated."""
        validate_params(params)
        ensure_model_allowed(principal, params.model)
        route = self._models.resolve(params.model)
        call = ChatCall(
            params=params, account=route.account.name, model=route.model.name, stream=stream
        )
        completion_id = f"chatcmpl-{request_id}"
        events = _stamped(route.provider.chat(call), completion_id, route.id)
        return ChatRun(
            completion_id=completion_id,
            resolved_model=route.id,
            provider_account=route.account.name,
            events=events,
        )


async def _stamped(
    events: AsyncIterator[ChatEvent], completion_id: str, model: str
) -> AsyncIterator[ChatEvent]:
    # The gateway's id and the `account/model` name, not the provider's, identify the answer.
    try:
        async for event in events:
            if isinstance(event, ChatResult):
                event.id = completion_id
                event.model = model
                if not event.HasField("create_time"):
                    event.create_time.FromSeconds(int(time.time()))
            yield event
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


def validate_params(params: ChatParams) -> None:
    """Checks what a gRPC caller can get wrong that the facade's codec already rejects."""
    if not params.model:
        raise InvalidRequest("`model` is required", param="model")
    if not params.messages:
        raise InvalidRequest("`messages` must be a non-empty list", param="messages")
    for index, message in enumerate(params.messages):
        if message.role == ROLE_UNSPECIFIED:
            raise InvalidRequest(
                f"messages[{index}].role is required", param=f"messages[{index}].role"
            )
