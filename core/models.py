"""The model registry: `account/model` -> the provider account and model that serve it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from core.config.loader import ConfigError, GatewayConfig
from core.config.models import ModelConfig, ProviderAccount
from core.errors import InvalidRequest, ModelNotFound
from core.providers.base import Provider


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """Where one model name leads."""

    id: str
    account: ProviderAccount
    model: ModelConfig
    provider: Provider


class ModelRegistry:
    """Resolves model names; built once at start-up from the config."""

    def __init__(self, routes: Mapping[str, ModelRoute], providers: list[Provider]) -> None:
        self._routes = dict(routes)
        self._providers = providers

    def resolve(self, model_id: str, *, kind: str = "chat") -> ModelRoute:
        """The route of `account/model`: ModelNotFound if unknown, InvalidRequest if wrong kind."""
        route = self._routes.get(model_id)
        if route is None:
            raise ModelNotFound(
                f"model {model_id!r} not found: use `account/model`, one of GET /v1/models",
                param="model",
            )
        if route.model.kind != kind:
            raise InvalidRequest(
                f"model {model_id!r} is a {route.model.kind} model, not a {kind} model",
                param="model",
            )
        return route

    def routes(self) -> list[ModelRoute]:
        """Every model, sorted by id."""
        return [self._routes[k] for k in sorted(self._routes)]

    async def aclose(self) -> None:
        await asyncio.gather(*(p.aclose() for p in self._providers))


def build_registry(
    config: GatewayConfig,
    environ: Mapping[str, str],
    build: Callable[[ProviderAccount, str | None], Provider],
) -> ModelRegistry:
    """Creates one provider per account (inside the running loop) and indexes its models."""
    routes: dict[str, ModelRoute] = {}
    providers: list[Provider] = []
    for account in config.accounts:
        provider = build(account, resolve_api_key(account, environ))
        providers.append(provider)
        for model in account.models:
            model_id = f"{account.name}/{model.name}"
            routes[model_id] = ModelRoute(model_id, account, model, provider)
    return ModelRegistry(routes, providers)


def resolve_api_key(account: ProviderAccount, environ: Mapping[str, str]) -> str | None:
    """The account's provider key from its env var or file; ConfigError if named but absent."""
    if account.api_key_env:
        key = environ.get(account.api_key_env)
        if not key:
            raise ConfigError(
                f"provider account {account.name}: environment variable "
                f"{account.api_key_env} (api_key_env) is not set"
            )
        return key.strip()
    if account.api_key_file:
        try:
            return Path(account.api_key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"provider account {account.name}: cannot read api_key_file "
                f"{account.api_key_file}: {exc.strerror}"
            ) from None
    return None
