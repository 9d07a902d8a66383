"""Builders shared by the provider tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from codec import chat_params_from_json
from core.config.models import ProviderAccount
from core.providers.base import ChatCall, Provider
from core.providers.sse import SseEvent
from gateway.v1.chat_pb2 import ChatDelta, ChatResult

API_KEY = "sk-test-SECRET-4f9d2c"
"""Distinctive, so a test can assert it never appears in an error message."""

WEATHER_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    },
    {
        "type": "function",
        "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
    },
]


def account(provider: str, base_url: str | None, **fields: Any) -> ProviderAccount:
    data: dict[str, Any] = {
        "type": "provider-account",
        "name": f"{provider}-main",
        "provider": provider,
        "base_url": base_url,
        "models": [{"name": "m"}],
        **fields,
    }
    return ProviderAccount.model_validate(data)


def chat_call(
    model: str,
    *,
    stream: bool,
    account_name: str = "acct",
    body_fields: Mapping[str, Any] | None = None,
    **request: Any,
) -> ChatCall:
    """A call for `model`; `request` (and `body_fields`, for names like `stream`) go in the body."""
    body = {
        "model": f"{account_name}/{model}",
        "messages": [{"role": "user", "content": "hi there"}],
    }
    body.update(request)
    body.update(body_fields or {})
    return ChatCall(
        params=chat_params_from_json(body), account=account_name, model=model, stream=stream
    )


async def collect(provider: Provider, call: ChatCall) -> tuple[list[ChatDelta], ChatResult]:
    """Runs a call to the end: its deltas, and the one ChatResult that must come last."""
    deltas: list[ChatDelta] = []
    results: list[ChatResult] = []
    async for event in provider.chat(call):
        assert not results, "nothing may follow the ChatResult"
        if isinstance(event, ChatResult):
            results.append(event)
        else:
            deltas.append(event)
    assert len(results) == 1
    return deltas, results[0]


class ScriptedUpstream:
    """An in-memory `Upstream` that answers from a script and records what it was sent."""

    def __init__(self, *, answer: Any = None, events: list[SseEvent] | None = None) -> None:
        self.answer = answer
        self.events = events or []
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def post_json(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        self.sent.append((path, dict(body)))
        return self.answer

    @asynccontextmanager
    async def stream_sse(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[AsyncIterator[SseEvent]]:
        self.sent.append((path, dict(body)))

        async def events() -> AsyncIterator[SseEvent]:
            for event in self.events:
                yield event

        yield events()

    async def aclose(self) -> None:
        pass
