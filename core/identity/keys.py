"""Key management: create, list, revoke and rotate API keys in the store.

A secret is `gw-` + 32 random bytes (URL-safe base64); only its SHA-256 digest and its first
10 characters (the prefix, to recognise it in a list) are stored. The secret is returned once.
Its shape is declared with its redaction in `codec.redaction`, so errors never echo one.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from codec.redaction import SECRET_PREFIX
from core.auth import key_digest
from core.errors import InvalidRequest, KeyNotFound
from core.identity.clock import Clock, epoch_ms, system_clock
from core.identity.rules import (
    check_expiry,
    check_models,
    normalize_subject,
    normalize_teams,
    team_membership,
)
from core.store.base import ApiKeyRecord, Store

PREFIX_CHARS = 10
_KEY_ID = re.compile(r"^key_[0-9a-f]{16}$")


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A stored key and its secret, which exists nowhere else."""

    record: ApiKeyRecord
    secret: str

    def __repr__(self) -> str:  # never print the secret by accident
        return f"IssuedKey(id={self.record.id!r}, prefix={self.record.prefix!r})"


def new_secret() -> str:
    """A fresh key secret."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def new_key_id() -> str:
    """A fresh key id, `key_` + 16 hex characters."""
    return "key_" + secrets.token_hex(8)


class KeyManager:
    """Creates and changes keys; `on_change(old_digest)` lets a local cache forget at once."""

    def __init__(
        self,
        store: Store,
        known_models: Collection[str],
        *,
        clock: Clock = system_clock,
        on_change: Callable[[str], None] = lambda digest: None,
    ) -> None:
        self._store = store
        self._known_models = known_models
        self._clock = clock
        self._on_change = on_change

    async def create(
        self,
        *,
        subject: str,
        teams: Sequence[str] = (),
        admin_teams: Sequence[str] = (),
        models: Sequence[str] = (),
        expires_at: int | None = None,
    ) -> IssuedKey:
        """Validates the grant and stores a new key; a team admin is also a member."""
        now = epoch_ms(self._clock)
        admin = normalize_teams(admin_teams, param="admin_teams")
        members = normalize_teams(teams)
        secret = new_secret()
        record = ApiKeyRecord(
            id=new_key_id(),
            digest=key_digest(secret),
            prefix=secret[:PREFIX_CHARS],
            subject=normalize_subject(subject),
            created_at=now,
            teams=team_membership(members, admin),
            admin_teams=admin,
            models=check_models(models, self._known_models),
            expires_at=check_expiry(expires_at, now),
        )
        await self._store.insert_key(record)
        return IssuedKey(record, secret)

    async def list(
        self, *, subject: str | None = None, include_revoked: bool = False
    ) -> list[ApiKeyRecord]:
        """Keys, newest first (active only unless `include_revoked`)."""
        return await self._store.list_keys(subject=subject or None, include_revoked=include_revoked)

    async def revoke(self, key_id: str) -> ApiKeyRecord:
        """Revokes a key (revoking a revoked key changes nothing)."""
        record = await self._get(key_id)
        if record.revoked_at is not None:
            return record
        revoked = dataclasses.replace(record, revoked_at=epoch_ms(self._clock))
        await self._store.update_key(revoked)
        self._on_change(record.digest)
        return revoked

    async def rotate(self, key_id: str) -> IssuedKey:
        """Gives a key a new secret, keeping its id and grants; the old secret stops working."""
        record = await self._get(key_id)
        if record.revoked_at is not None:
            raise InvalidRequest(f"key {key_id} is revoked: create a new key", param="id")
        secret = new_secret()
        rotated = dataclasses.replace(
            record, digest=key_digest(secret), prefix=secret[:PREFIX_CHARS]
        )
        await self._store.update_key(rotated)
        self._on_change(record.digest)
        return IssuedKey(rotated, secret)

    async def _get(self, key_id: str) -> ApiKeyRecord:
        if not key_id.strip():
            raise InvalidRequest("a key id is required", param="id")
        record = await self._store.get_key(key_id.strip())
        if record is None:
            # Echo only what is shaped like an id: a secret pasted by mistake stays unprinted.
            shown = repr(key_id) if _KEY_ID.match(key_id) else "(not a key id)"
            raise KeyNotFound(f"no API key with id {shown}", param="id")
        return record
