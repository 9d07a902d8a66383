"""The model registry: `account/model` -> the provider account and model that serve it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from core.config.loader import ConfigError, GatewayConfig
from core.config.models import ModelConfig, ProviderAccount, model_id
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
    """Resolves model names; one per config snapshot (a reload builds a new one)."""

    def __init__(
        self, routes: Mapping[str, ModelRoute], providers: Mapping[str, AccountProvider]
    ) -> None:
        self._routes = dict(routes)
        self.providers = dict(providers)
        """Each account's provider, with the key it was built with (reused on reload)."""

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
        await asyncio.gather(*(p.provider.aclose() for p in self.providers.values()))


@dataclass(frozen=True, slots=True)
class AccountProvider:
    """A provider built for an account's exact config and key."""

    account: ProviderAccount
    api_key: str | None
    provider: Provider


def build_registry(
    config: GatewayConfig,
    environ: Mapping[str, str],
    build: Callable[[ProviderAccount, str | None], Provider],
    previous: ModelRegistry | None = None,
) -> ModelRegistry:
    """Indexes every account's models, creating providers (inside the running loop); an
    account whose config and key are unchanged since `previous` keeps its provider (and its
    warm connection pool)."""
    routes: dict[str, ModelRoute] = {}
    providers: dict[str, AccountProvider] = {}
    old = previous.providers if previous is not None else {}
    # Every key first: a missing one fails the config before any provider (pool) exists.
    keys = [resolve_api_key(account, environ) for account in config.accounts]
    for account, key in zip(config.accounts, keys, strict=True):
        kept = old.get(account.name)
        if kept is not None and kept.account == account and kept.api_key == key:
            entry = kept
        else:
            entry = AccountProvider(account, key, build(account, key))
        providers[account.name] = entry
        for model in account.models:
            name = model_id(account.name, model.name)
            routes[name] = ModelRoute(name, account, model, entry.provider)
    return ModelRegistry(routes, providers)


def retired_providers(old: ModelRegistry, new: ModelRegistry) -> list[Provider]:
    """Providers of `old` that `new` no longer uses (to close once their calls are done)."""
    kept = {id(p.provider) for p in new.providers.values()}
    return [p.provider for p in old.providers.values() if id(p.provider) not in kept]


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
