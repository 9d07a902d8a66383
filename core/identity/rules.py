"""What a valid API key grant looks like: subjects, teams, models and expiry, normalized.

Every list in a grant is capped, and checked against its cap before any per-item work: a grant
travels with each of the key's requests (its principal, the log queries it scopes) and is
checked on the event loop, so one create call with 20,000 teams must cost no more than one
with 20 (it used to stall every request for seconds).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from core.config.loader import GatewayConfig
from core.config.models import model_id
from core.errors import InvalidRequest

# Plausible, not RFC 5322: one `@`, no spaces, a dot in the domain.
_EMAIL = re.compile(r"^[^@\s:]+@[^@\s.]+(\.[^@\s.]+)+$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SUBJECT_FORMS = "`user:<email>` or `virtualaccount:<name>`"

MAX_TEAMS = 100
"""Teams a key may belong to, members and admins together (`teams` + `admin_teams`)."""
MAX_MODELS = 100
"""Models a key's allow-list may name; an empty list allows every model."""
LAST_MS = 253_402_300_799_999
"""The last millisecond of year 9999: the latest `expires_at`."""
MAX_SUBJECT_CHARS = 320
"""Longest subject accepted, checked before any pattern work (an email has at most 254)."""


def configured_models(config: GatewayConfig) -> frozenset[str]:
    """Every `account/model` the config declares, and its virtual models (LB rule names)."""
    declared = frozenset(model_id(a.name, m.name) for a in config.accounts for m in a.models)
    return declared | config.policies.virtual_models


def normalize_subject(subject: str) -> str:
    """`user:<email>` or `virtualaccount:<name>`; InvalidRequest naming the form otherwise."""
    subject = subject.strip()
    if len(subject) > MAX_SUBJECT_CHARS:
        raise InvalidRequest(
            f"invalid subject: expected {SUBJECT_FORMS} of at most {MAX_SUBJECT_CHARS} characters",
            param="subject",
        )
    kind, _, name = subject.partition(":")
    if (kind == "user" and _EMAIL.match(name)) or (kind == "virtualaccount" and _NAME.match(name)):
        return subject
    if not subject:
        raise InvalidRequest(f"`subject` is required: {SUBJECT_FORMS}", param="subject")
    # The value is not echoed: a secret pasted into the wrong field must not come back.
    raise InvalidRequest(f"invalid subject: expected {SUBJECT_FORMS}", param="subject")


def check_count(values: Sequence[str], limit: int, param: str, what: str) -> None:
    """InvalidRequest naming `limit` when `values` holds more than `limit` items."""
    if len(values) > limit:
        raise InvalidRequest(
            f"`{param}` lists {len(values)} {what}; a key may have at most {limit} {what}",
            param=param,
        )


def normalize_teams(names: Sequence[str], *, param: str = "teams") -> tuple[str, ...]:
    """`team:<name>` for each name (bare names accepted), deduplicated in order."""
    check_count(names, MAX_TEAMS, param, "teams")
    teams: dict[str, None] = {}  # an ordered set: linear de-duplication
    for raw in names:
        name = raw.strip().removeprefix("team:")
        if not _NAME.match(name):
            raise InvalidRequest(
                f"invalid team {raw!r} in {param}: expected `team:<name>` or a bare name "
                "(letters, digits, `.`, `_`, `-`)",
                param=param,
            )
        teams[f"team:{name}"] = None
    return tuple(teams)


def team_membership(members: Sequence[str], admin: Sequence[str]) -> tuple[str, ...]:
    """Every team of a key (a team admin is also a member), within MAX_TEAMS."""
    teams = tuple(dict.fromkeys((*members, *admin)))
    if len(teams) > MAX_TEAMS:
        raise InvalidRequest(
            f"`teams` and `admin_teams` name {len(teams)} teams together; a key may belong to "
            f"at most {MAX_TEAMS} teams",
            param="teams",
        )
    return teams


def check_models(models: Sequence[str], known: Collection[str]) -> tuple[str, ...]:
    """The allow-list, deduplicated; InvalidRequest naming the first model not configured."""
    check_count(models, MAX_MODELS, "models", "models")
    allowed: dict[str, None] = {}  # an ordered set: linear de-duplication
    for model in (m.strip() for m in models):
        if model not in known:
            raise InvalidRequest(
                f"unknown model {model!r} in models: name configured models as `account/model`",
                param="models",
            )
        allowed[model] = None
    return tuple(allowed)


def check_expiry(expires_at: int | None, now_ms: int) -> int | None:
    """`expires_at` (epoch ms) must be in the future, and before year 10000, when set."""
    if expires_at is not None and expires_at <= now_ms:
        raise InvalidRequest("`expires_at` must be in the future", param="expires_at")
    if expires_at is not None and expires_at > LAST_MS:
        # A raw gRPC Timestamp can hold more than any store's 64-bit integer.
        raise InvalidRequest("`expires_at` must be before year 10000", param="expires_at")
    return expires_at
