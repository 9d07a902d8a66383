"""Authenticator over a real SQLite store, with a clock the tests move instead of sleeping."""

from __future__ import annotations

import pytest

from core.auth import INVALID_KEY, MISSING_KEY, Authenticator, config_principals, key_digest
from core.config.models import ApiKeyEntry
from core.errors import Unauthenticated
from core.identity.keys import KeyManager, new_key_id, new_secret
from core.identity.usage import LastUsed
from core.store.base import ApiKeyRecord
from tests.identity.conftest import CountingStore, FakeClock

ADMIN = "the-admin-key"
MODELS = ("acct/chat", "acct/other")
CONFIG_KEY = "config-key-secret"


def make_auth(
    store: CountingStore, clock: FakeClock, ttl: float = 5.0, **kw: object
) -> Authenticator:
    entry = ApiKeyEntry(id="cfg", subject="virtualaccount:bot", sha256=key_digest(CONFIG_KEY))
    return Authenticator(
        store, ADMIN, lambda: config_principals([entry]), cache_ttl_seconds=ttl, clock=clock, **kw
    )  # type: ignore[arg-type]


def bearer(secret: str) -> str:
    return f"Bearer {secret}"


async def test_admin_config_and_stored_keys_resolve_to_their_principals(
    store: CountingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock)
    issued = await KeyManager(store, MODELS, clock=clock).create(
        subject="user:alice@example.com",
        teams=["ml"],
        admin_teams=["ops"],
        models=["acct/chat"],
    )
    admin = await auth.authenticate(bearer(ADMIN))
    assert (admin.subject, admin.key_id, admin.is_admin) == ("user:admin", "admin", True)
    config = await auth.authenticate(bearer(CONFIG_KEY))
    assert (config.subject, config.key_id, config.is_admin) == ("virtualaccount:bot", "cfg", False)
    user = await auth.authenticate(bearer(issued.secret))
    assert user.subject == "user:alice@example.com"
    assert user.key_id == issued.record.id
    assert user.teams == ("team:ml", "team:ops")
    assert user.admin_teams == ("team:ops",)
    assert user.models == ("acct/chat",)
    assert not user.is_admin
    assert store.lookups == 1  # admin and config keys never reach the store


@pytest.mark.parametrize("header", [None, "", "Basic abc", "bearer x"])
async def test_missing_key_says_how_to_send_one(
    store: CountingStore, clock: FakeClock, header: str | None
) -> None:
    with pytest.raises(Unauthenticated) as caught:
        await make_auth(store, clock).authenticate(header)
    assert caught.value.message == MISSING_KEY


async def test_unknown_malformed_expired_and_revoked_fail_alike(
    store: CountingStore, clock: FakeClock
) -> None:
    keys = KeyManager(store, MODELS, clock=clock)
    expiring = await keys.create(subject="user:a@example.com", expires_at=int(clock() * 1000) + 1)
    revoked = await keys.create(subject="user:b@example.com")
    await keys.revoke(revoked.record.id)
    clock.advance(1)
    auth = make_auth(store, clock, ttl=0)
    candidates = [new_secret(), "gw-", "not-a-key", "gw-ünïcode", expiring.secret, revoked.secret]
    errors = []
    for secret in candidates:
        with pytest.raises(Unauthenticated) as caught:
            await auth.authenticate(bearer(secret))
        errors.append((type(caught.value), caught.value.message, caught.value.param))
    assert errors == [(Unauthenticated, INVALID_KEY, None)] * len(candidates)
    # The same work for each: every one was hashed and looked up in the store.
    assert store.lookups == len(candidates)


async def test_revocation_elsewhere_is_seen_within_the_ttl(
    store: CountingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock, ttl=5.0)
    # Another instance: same store, its own manager, no way to tell this cache.
    other = KeyManager(store, MODELS, clock=clock)
    issued = await other.create(subject="user:alice@example.com")
    await auth.authenticate(bearer(issued.secret))
    await other.revoke(issued.record.id)
    clock.advance(4.99)
    await auth.authenticate(bearer(issued.secret))  # still cached: within the bound
    clock.advance(0.01)
    with pytest.raises(Unauthenticated):
        await auth.authenticate(bearer(issued.secret))


async def test_zero_ttl_sees_revocation_at_once(store: CountingStore, clock: FakeClock) -> None:
    auth = make_auth(store, clock, ttl=0)
    other = KeyManager(store, MODELS, clock=clock)
    issued = await other.create(subject="user:alice@example.com")
    await auth.authenticate(bearer(issued.secret))
    await other.revoke(issued.record.id)
    with pytest.raises(Unauthenticated):
        await auth.authenticate(bearer(issued.secret))


async def test_local_revoke_and_rotate_forget_the_cache_at_once(
    store: CountingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock, ttl=3600)
    keys = KeyManager(store, MODELS, clock=clock, on_change=auth.forget)
    first = await keys.create(subject="user:alice@example.com")
    await auth.authenticate(bearer(first.secret))
    rotated = await keys.rotate(first.record.id)
    with pytest.raises(Unauthenticated):
        await auth.authenticate(bearer(first.secret))
    assert (await auth.authenticate(bearer(rotated.secret))).key_id == first.record.id
    await keys.revoke(first.record.id)
    with pytest.raises(Unauthenticated):
        await auth.authenticate(bearer(rotated.secret))


async def test_expiry_is_checked_on_every_call_even_when_cached(
    store: CountingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock, ttl=3600)
    issued = await KeyManager(store, MODELS, clock=clock).create(
        subject="user:alice@example.com", expires_at=int(clock() * 1000) + 10_000
    )
    await auth.authenticate(bearer(issued.secret))
    clock.advance(10)
    with pytest.raises(Unauthenticated):
        await auth.authenticate(bearer(issued.secret))
    assert store.lookups == 1


async def test_unknown_keys_are_cached_within_the_ttl_and_bounded(
    store: CountingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock, ttl=5.0, max_cached_unknown=10)
    secret = new_secret()
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await auth.authenticate(bearer(secret))
    assert store.lookups == 1
    # Stored after being asked for: seen once the negative answer expires, not before.
    record = ApiKeyRecord(
        id=new_key_id(),
        digest=key_digest(secret),
        prefix=secret[:10],
        subject="user:late@example.com",
        created_at=int(clock() * 1000),
    )
    await store.insert_key(record)
    with pytest.raises(Unauthenticated):
        await auth.authenticate(bearer(secret))
    clock.advance(5)
    assert (await auth.authenticate(bearer(secret))).subject == "user:late@example.com"
    # A flood of garbage keys cannot grow the negative cache past its bound.
    for n in range(100):
        with pytest.raises(Unauthenticated):
            await auth.authenticate(bearer(f"garbage-{n}"))
    assert len(auth._unknown) == 10


async def test_last_use_is_buffered_then_written_at_most_once_a_minute(
    store: CountingStore, clock: FakeClock
) -> None:
    last_used = LastUsed(store, clock=clock)
    auth = make_auth(store, clock, ttl=0, last_used=last_used)
    issued = await KeyManager(store, MODELS, clock=clock).create(subject="user:a@example.com")
    key_id = issued.record.id
    await auth.authenticate(bearer(issued.secret))
    assert store.touches == []  # nothing written on the request path
    assert await last_used.flush() == 1
    first_use = int(clock() * 1000)
    assert store.touches == [{key_id: first_use}]
    stored = await store.get_key(key_id)
    assert stored is not None
    assert stored.last_used_at == first_use
    clock.advance(30)
    await auth.authenticate(bearer(issued.secret))
    assert await last_used.flush() == 0  # written 30 s ago: waits
    clock.advance(30)
    assert await last_used.flush() == 1
    assert store.touches[-1] == {key_id: first_use + 30_000}
    clock.advance(1)
    await auth.authenticate(bearer(issued.secret))
    await auth.stop()  # stopping flushes what is buffered
    assert store.touches[-1] == {key_id: first_use + 61_000}


async def test_last_use_survives_a_failed_write(store: CountingStore, clock: FakeClock) -> None:
    last_used = LastUsed(store, clock=clock)
    last_used.note("key_0000000000000001", 123)
    await store.close()  # the store is down: the write fails, the use stays buffered
    assert await last_used.flush() == 0
    await store.open()
    assert await last_used.flush() == 1
    assert store.touches[-1] == {"key_0000000000000001": 123}
