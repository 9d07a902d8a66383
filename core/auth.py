"""API keys: who is calling. Secrets are compared as SHA-256 digests and never kept in clear.

Order of lookup: the admin key, then keys declared in the config, then the store, through a
TTL cache of both answers (so a revoked key keeps working on another instance for at most
`cache_ttl_seconds`). Unknown, malformed, expired and revoked keys all fail alike.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from core.config.models import ApiKeyEntry
from core.errors import Unauthenticated
from core.identity.cache import TtlCache
from core.identity.clock import Clock, epoch_ms, system_clock
from core.identity.usage import LastUsed
from core.store.base import ApiKeyRecord, Store

ADMIN_SUBJECT = "user:admin"
INVALID_KEY = "invalid API key"
MISSING_KEY = "missing API key: send `Authorization: Bearer <key>`"


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


@dataclass(frozen=True, slots=True)
class _Known:
    record: ApiKeyRecord
    principal: Principal


class Authenticator:
    """Maps bearer tokens to principals; `start()`/`stop()` run the last-use writer."""

    def __init__(
        self,
        store: Store,
        admin_key: str,
        config_keys: Callable[[], Mapping[str, Principal]] = dict,
        *,
        cache_ttl_seconds: float = 5.0,
        clock: Clock = system_clock,
        max_cached_keys: int = 100_000,
        max_cached_unknown: int = 10_000,
        last_used: LastUsed | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._admin_digest = key_digest(admin_key)
        self._admin = Principal(ADMIN_SUBJECT, "admin", is_admin=True)
        # Read per call from the current config snapshot, so a reload changes them at once.
        self._configured = config_keys
        self._known = TtlCache[str, _Known](
            ttl_seconds=cache_ttl_seconds, max_entries=max_cached_keys, clock=clock
        )
        # Bounded so a flood of garbage keys cannot grow memory.
        self._unknown = TtlCache[str, bool](
            ttl_seconds=cache_ttl_seconds, max_entries=max_cached_unknown, clock=clock
        )
        self._last_used = last_used or LastUsed(store, clock=clock)

    async def authenticate(self, authorization: str | None) -> Principal:
        """Resolves an `authorization` header value; raises Unauthenticated, never saying why."""
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthenticated(MISSING_KEY)
        token = authorization[7:].strip()
        if not token:  # never a key, whatever was configured (an empty admin key file, say)
            raise Unauthenticated(MISSING_KEY)
        # Every key is hashed and looked up the same way, whatever its shape: the work done
        # does not tell a malformed key from an unknown, expired or revoked one.
        digest = key_digest(token)
        if hmac.compare_digest(digest, self._admin_digest):
            return self._admin
        configured = self._configured().get(digest)
        if configured is not None:
            return configured
        known = await self._lookup(digest)
        now = epoch_ms(self._clock)
        if known is None or not _usable(known.record, digest, now):
            raise Unauthenticated(INVALID_KEY)
        self._last_used.note(known.record.id, now)
        return known.principal

    def forget(self, digest: str) -> None:
        """Drops a digest from the cache (after a local revoke or rotate)."""
        self._known.discard(digest)
        self._unknown.discard(digest)

    def start(self) -> None:
        """Starts writing last-use times in the background."""
        self._last_used.start()

    async def stop(self) -> None:
        """Stops the writer, flushing what it buffered."""
        await self._last_used.stop()

    async def _lookup(self, digest: str) -> _Known | None:
        known = self._known.get(digest)
        if known is not None:
            return known
        if self._unknown.get(digest):
            return None
        record = await self._store.find_key_by_digest(digest)
        if record is None:
            self._unknown.put(digest, True)
            return None
        known = _Known(record, _principal(record))
        self._known.put(digest, known)
        return known


def config_principals(entries: Iterable[ApiKeyEntry]) -> dict[str, Principal]:
    """Principals of the keys a config declares, by digest."""
    return {e.sha256: Principal(e.subject, e.id) for e in entries}


def _usable(record: ApiKeyRecord, digest: str, now: int) -> bool:
    matches = hmac.compare_digest(record.digest, digest)
    expired = record.expires_at is not None and record.expires_at <= now
    return matches and not expired and record.revoked_at is None


def _principal(record: ApiKeyRecord) -> Principal:
    return Principal(
        subject=record.subject,
        key_id=record.id,
        teams=record.teams,
        admin_teams=record.admin_teams,
        models=record.models,
    )
