"""What a valid API key grant looks like: subjects, teams, models and expiry, normalized."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from core.config.loader import GatewayConfig
from core.config.models import model_id
from core.errors import InvalidRequest

# Plausible, not RFC 5322: one `@`, no spaces, a dot in the domain.
_EMAIL = re.compile(r"^[^@\s:]+@[^@\s.]+(\.[^@\s.]+)+$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SUBJECT_FORMS = "`user:<email>` or `virtualaccount:<name>`"


def configured_models(config: GatewayConfig) -> frozenset[str]:
    """Every `account/model` the config declares, and its virtual models (LB rule names)."""
    declared = frozenset(model_id(a.name, m.name) for a in config.accounts for m in a.models)
    return declared | config.policies.virtual_models


def normalize_subject(subject: str) -> str:
    """`user:<email>` or `virtualaccount:<name>`; InvalidRequest naming the form otherwise."""
    subject = subject.strip()
    kind, _, name = subject.partition(":")
    if (kind == "user" and _EMAIL.match(name)) or (kind == "virtualaccount" and _NAME.match(name)):
        return subject
    if not subject:
        raise InvalidRequest(f"`subject` is required: {SUBJECT_FORMS}", param="subject")
    # The value is not echoed: a secret pasted into the wrong field must not come back.
    raise InvalidRequest(f"invalid subject: expected {SUBJECT_FORMS}", param="subject")


def normalize_teams(names: Iterable[str], *, param: str = "teams") -> tuple[str, ...]:
    """`team:<name>` for each name (bare names accepted), deduplicated in order."""
    teams: list[str] = []
    for raw in names:
        name = raw.strip().removeprefix("team:")
        if not _NAME.match(name):
            raise InvalidRequest(
                f"invalid team {raw!r} in {param}: expected `team:<name>` or a bare name "
                "(letters, digits, `.`, `_`, `-`)",
                param=param,
            )
        if f"team:{name}" not in teams:
            teams.append(f"team:{name}")
    return tuple(teams)


def check_models(models: Iterable[str], known: Collection[str]) -> tuple[str, ...]:
    """The allow-list, deduplicated; InvalidRequest naming the first model not configured."""
    allowed: list[str] = []
    for model in (m.strip() for m in models):
        if model not in known:
            raise InvalidRequest(
                f"unknown model {model!r} in models: name configured models as `account/model`",
                param="models",
            )
        if model not in allowed:
            allowed.append(model)
    return tuple(allowed)


def check_expiry(expires_at: int | None, now_ms: int) -> int | None:
    """`expires_at` (epoch ms) must be in the future when set."""
    if expires_at is not None and expires_at <= now_ms:
        raise InvalidRequest("`expires_at` must be in the future", param="expires_at")
    return expires_at
