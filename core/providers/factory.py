"""Builds the provider of an account: the one place that knows every family."""

from __future__ import annotations

from core.config.models import ProviderAccount
from core.providers.base import Provider
from core.providers.mock import MockProvider


def build_provider(account: ProviderAccount, api_key: str | None) -> Provider:
    """Creates the account's provider with its pooled upstream client (call inside the loop).

    Families are imported here, at start-up, so a gateway only loads the ones it uses.
    """
    if account.provider == "mock":
        return MockProvider(account)
    if account.provider == "openai":
        from core.providers.openai import OpenAIProvider

        return OpenAIProvider(account, api_key)
    if account.provider == "azure-openai":
        from core.providers.azure import AzureOpenAIProvider

        return AzureOpenAIProvider(account, api_key)
    if account.provider == "gemini":
        from core.providers.gemini import GeminiProvider

        return GeminiProvider(account, api_key)
    if account.provider == "vertex":
        from core.providers.vertex import VertexProvider

        return VertexProvider(account)
    if account.provider == "bedrock":
        from core.providers.bedrock import BedrockProvider

        return BedrockProvider(account)
    from core.providers.anthropic import AnthropicProvider

    return AnthropicProvider(account, api_key)
