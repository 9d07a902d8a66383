"""API keys: who is calling. Secrets are compared as SHA-256 digests and never kept in clear."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from core.config.models import ApiKeyEntry
from core.errors import Unauthenticated

ADMIN_SUBJECT = "user:admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """The subject a request is attributed to."""

    subject: str
    key_id: str
    is_admin: bool = False
    teams: tuple[str, ...] = ()
    """Teams the subject belongs to, as `team:<name>`."""
    admin_teams: tuple[str, ...] = ()
    """Teams whose logs and metrics the caller may read."""
    models: tuple[str, ...] = ()
    """Models the key may call (`account/model`); empty allows all."""


def key_digest(secret: str) -> str:
    """Hex SHA-256 of a key, the only form in which keys are stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyRing:
    """Maps bearer tokens to principals."""

    def __init__(self, admin_key: str, entries: Iterable[ApiKeyEntry] = ()) -> None:
        self._admin_digest = key_digest(admin_key).encode()
        self._by_digest = {e.sha256: Principal(e.subject, e.id) for e in entries}
        self._admin = Principal(ADMIN_SUBJECT, "admin", is_admin=True)

    def authenticate(self, authorization: str | None) -> Principal:
        """Resolves an `authorization` header value; raises Unauthenticated, never saying why."""
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthenticated("missing API key: send `Authorization: Bearer <key>`")
        digest = key_digest(authorization[7:].strip())
        # Digests are compared, not secrets, so a lookup leaks nothing usable about a key.
        if hmac.compare_digest(digest.encode(), self._admin_digest):
            return self._admin
        principal = self._by_digest.get(digest)
        if principal is None:
            raise Unauthenticated("invalid API key")
        return principal
