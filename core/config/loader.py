"""Loads the gateway YAML (several documents separated by `---`) into a validated GatewayConfig."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, TypeAdapter, ValidationError

from core.config.models import (
    ApiKeyEntry,
    ApiKeys,
    FieldError,
    MetricsConfig,
    ModelKind,
    ProviderAccount,
    model_id,
)
from core.config.policies import (
    POLICY_DOCUMENT_TYPES,
    POLICY_DOCUMENTS,
    BudgetConfig,
    FallbackConfig,
    LoadBalancingConfig,
    Policies,
    PolicyDocument,
    PolicyIssue,
    RateLimitConfig,
    build_policies,
)

# Defined here, not in models.py: the policy documents build on models.py's base.
Document = Annotated[
    ProviderAccount
    | ApiKeys
    | MetricsConfig
    | RateLimitConfig
    | BudgetConfig
    | LoadBalancingConfig
    | FallbackConfig,
    Field(discriminator="type"),
]
_DOCUMENT_TYPES = (
    "provider-account",
    "gateway-api-keys",
    "gateway-metrics-config",
    *POLICY_DOCUMENT_TYPES,
)
_DOCUMENT = TypeAdapter[ProviderAccount | Any](Document)


class ConfigError(Exception):
    """The config file is unusable; the message names file, document and field path."""


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything the YAML declares, validated."""

    accounts: tuple[ProviderAccount, ...]
    api_keys: tuple[ApiKeyEntry, ...]
    metrics: MetricsConfig | None = None
    policies: Policies = field(default_factory=Policies)


def load_config(path: Path) -> GatewayConfig:
    """Reads and validates `path`; raises ConfigError with a precise location."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str = "<config>") -> GatewayConfig:
    """Validates YAML text; `source` names it in error messages."""
    try:
        raw_documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from None
    except RecursionError:  # PyYAML builds nested collections recursively
        raise ConfigError(f"{source}: invalid YAML: collections nested too deeply") from None
    accounts: list[ProviderAccount] = []
    api_keys: list[ApiKeyEntry] = []
    metrics: list[MetricsConfig] = []
    policies: list[tuple[int, PolicyDocument]] = []
    for number, raw in enumerate(raw_documents, start=1):
        document = _validate_document(raw, source=source, number=number)
        if isinstance(document, ProviderAccount):
            accounts.append(document)
        elif isinstance(document, MetricsConfig):
            metrics.append(document)
        elif isinstance(document, POLICY_DOCUMENTS):
            policies.append((number, document))
        else:
            api_keys.extend(document.keys)
    _check_unique([a.name for a in accounts], source, "provider account name")
    _check_unique([k.id for k in api_keys], source, "api key id")
    if len(metrics) > 1:
        raise ConfigError(f"{source}: more than one gateway-metrics-config document")
    return GatewayConfig(
        accounts=tuple(accounts),
        api_keys=tuple(api_keys),
        metrics=metrics[0] if metrics else None,
        policies=_policies(policies, accounts, source),
    )


def _policies(
    documents: list[tuple[int, PolicyDocument]], accounts: list[ProviderAccount], source: str
) -> Policies:
    models: dict[str, ModelKind] = {
        model_id(a.name, m.name): m.kind for a in accounts for m in a.models
    }
    try:
        return build_policies(documents, models)
    except PolicyIssue as issue:
        where = _where(source, issue.number, issue.name)
        raise ConfigError(f"{where}: {_field_path(issue.loc)}: {issue.reason}") from None


def _validate_document(raw: object, *, source: str, number: int) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: document {number}: expected a mapping with `name` and `type`")
    name = raw.get("name")
    where = _where(source, number, name if isinstance(name, str) else None)
    try:
        return _DOCUMENT.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc, reason = first["loc"], first["msg"]
        error = first.get("ctx", {}).get("error")
        if isinstance(error, FieldError):
            loc, reason = (*loc, *error.path), error.reason
        raise ConfigError(f"{where}: {_field_path(loc)}: {reason}") from None


def _where(source: str, number: int, name: str | None) -> str:
    return f"{source}: document {number}" + (f" (name={name})" if name is not None else "")


def _field_path(loc: tuple[int | str, ...]) -> str:
    # pydantic puts the discriminator's tag first (`provider-account.models.0.name`); drop it.
    parts = list(loc[1:]) if loc and loc[0] in _DOCUMENT_TYPES else list(loc)
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(document)"


def _check_unique(names: list[str], source: str, what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"{source}: duplicate {what} {name!r}")
        seen.add(name)
