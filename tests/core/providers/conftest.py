"""Providers built against the session's fake upstream, closed after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.providers.anthropic import AnthropicProvider
from core.providers.azure import AzureOpenAIProvider
from core.providers.openai import OpenAIProvider
from tests.core.providers.support import API_KEY, account
from tests.fakes.upstream import FakeUpstream


@pytest.fixture
async def openai(fake_upstream: FakeUpstream) -> AsyncIterator[OpenAIProvider]:
    provider = OpenAIProvider(account("openai", f"{fake_upstream.base_url}/v1"), API_KEY)
    yield provider
    await provider.aclose()


@pytest.fixture
async def azure(fake_upstream: FakeUpstream) -> AsyncIterator[AzureOpenAIProvider]:
    models = [
        {"name": "gpt-4o", "deployment": "prod-gpt4o"},
        {"name": "embed", "deployment": "emb-small"},
    ]
    provider = AzureOpenAIProvider(
        account("azure-openai", fake_upstream.base_url, models=models), API_KEY
    )
    yield provider
    await provider.aclose()


@pytest.fixture
async def anthropic(fake_upstream: FakeUpstream) -> AsyncIterator[AnthropicProvider]:
    provider = AnthropicProvider(account("anthropic", fake_upstream.base_url), API_KEY)
    yield provider
    await provider.aclose()
