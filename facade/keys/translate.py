"""JSON <-> KeyService protos: the create body in, the key (times as epoch ms) out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from facade.errors import FacadeError
from gateway.v1 import key_service_pb2 as pb

__all__ = ["CreateKey", "key_json", "parse_create"]

_FIELDS = ("subject", "teams", "admin_teams", "models", "expires_at")
_LAST_MS = 253_402_300_799_999
"""The last millisecond of year 9999, the end of protobuf's Timestamp range."""


@dataclass(frozen=True, slots=True)
class CreateKey:
    """A validated `POST /api/svc/v1/keys` body."""

    subject: str
    teams: list[str]
    admin_teams: list[str]
    models: list[str]
    expires_at_ms: int | None


def parse_create(body: dict[str, Any]) -> CreateKey:
    """Checks the JSON types (core checks the values); 400 naming the field."""
    unknown = sorted(set(body) - set(_FIELDS))
    if unknown:
        raise _bad(f"unknown field {unknown[0]!r}: expected {', '.join(_FIELDS)}", unknown[0])
    subject = body.get("subject")
    if not isinstance(subject, str) or not subject:
        raise _bad("`subject` is required: `user:<email>` or `virtualaccount:<name>`", "subject")
    expires_at = body.get("expires_at")
    if expires_at is not None and (
        isinstance(expires_at, bool)
        or not isinstance(expires_at, int)
        or not 0 <= expires_at <= _LAST_MS  # beyond a Timestamp's range: no 500 downstream
    ):
        raise _bad(
            "`expires_at` must be epoch milliseconds (an integer from 0 to year 9999) or null",
            "expires_at",
        )
    return CreateKey(
        subject=subject,
        teams=_strings(body, "teams"),
        admin_teams=_strings(body, "admin_teams"),
        models=_strings(body, "models"),
        expires_at_ms=expires_at,
    )


def key_json(key: pb.ApiKey, secret: str | None = None) -> dict[str, Any]:
    """A key as JSON; `key` (the secret) only when just created or rotated."""
    body: dict[str, Any] = {"id": key.id} if secret is None else {"id": key.id, "key": secret}
    body.update(
        subject=key.subject,
        teams=list(key.teams),
        admin_teams=list(key.admin_teams),
        models=list(key.models),
        prefix=key.prefix,
        created_at=_ms(key, "create_time"),
        expires_at=_ms(key, "expire_time"),
        last_used_at=_ms(key, "last_use_time"),
        revoked_at=_ms(key, "revoke_time"),
    )
    return body


def _strings(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(f"`{name}` must be a list of strings", name)
    return value


def _ms(key: pb.ApiKey, name: str) -> int | None:
    if not key.HasField(name):  # type: ignore[arg-type]
        return None
    return int(getattr(key, name).ToMilliseconds())


def _bad(message: str, param: str) -> FacadeError:
    # An unknown field is named back; the error envelope redacts a key pasted as one.
    return FacadeError(400, message, code="invalid_request", param=param)
