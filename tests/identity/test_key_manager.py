"""KeyManager: the rules a key grant must follow, and its lifecycle in a real store."""

from __future__ import annotations

import re

import pytest

from core.auth import key_digest
from core.errors import InvalidRequest, KeyNotFound
from core.identity.keys import KeyManager
from tests.identity.conftest import CountingStore, FakeClock

MODELS = ("acct/chat", "acct/other")


@pytest.fixture
def keys(store: CountingStore, clock: FakeClock) -> KeyManager:
    return KeyManager(store, MODELS, clock=clock)


async def test_secret_is_returned_once_and_stored_only_as_a_digest(
    keys: KeyManager, store: CountingStore, clock: FakeClock
) -> None:
    issued = await keys.create(subject="user:alice@example.com")
    assert re.fullmatch(r"gw-[A-Za-z0-9_-]{43}", issued.secret)
    assert re.fullmatch(r"key_[0-9a-f]{16}", issued.record.id)
    assert issued.record.prefix == issued.secret[:10]
    assert issued.record.created_at == int(clock() * 1000)
    stored = await store.get_key(issued.record.id)
    assert stored == issued.record
    assert stored.digest == key_digest(issued.secret)
    assert issued.secret not in repr(issued)
    assert issued.secret not in repr(stored)


@pytest.mark.parametrize(
    "subject",
    ["user:alice@example.com", "user:a.b+tag@mail.example.co.uk", "virtualaccount:booking-bot"],
)
async def test_valid_subjects(keys: KeyManager, subject: str) -> None:
    assert (await keys.create(subject=subject)).record.subject == subject


@pytest.mark.parametrize(
    "subject",
    [
        "",
        "alice@example.com",
        "user:alice",
        "user:alice@example",
        "user:al ice@example.com",
        "team:ml",
        "virtualaccount:",
        "virtualaccount:has space",
        "admin",
    ],
)
async def test_invalid_subjects_are_refused_naming_the_forms(
    keys: KeyManager, subject: str
) -> None:
    with pytest.raises(InvalidRequest, match="user:<email>") as caught:
        await keys.create(subject=subject)
    assert caught.value.param == "subject"


async def test_teams_are_normalized_and_team_admins_are_members(keys: KeyManager) -> None:
    issued = await keys.create(
        subject="user:alice@example.com",
        teams=["ml", "team:ml", "team:search"],
        admin_teams=["ops", "team:search"],
    )
    assert issued.record.teams == ("team:ml", "team:search", "team:ops")
    assert issued.record.admin_teams == ("team:ops", "team:search")


@pytest.mark.parametrize(("field", "value"), [("teams", "bad name"), ("admin_teams", "team:")])
async def test_bad_team_names_are_refused(keys: KeyManager, field: str, value: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await keys.create(subject="user:alice@example.com", **{field: [value]})
    assert caught.value.param == field
    assert repr(value) in caught.value.message


async def test_models_must_be_configured(keys: KeyManager) -> None:
    ok = await keys.create(subject="user:a@example.com", models=["acct/chat", "acct/chat"])
    assert ok.record.models == ("acct/chat",)
    with pytest.raises(InvalidRequest, match="unknown model 'acct/nope'") as caught:
        await keys.create(subject="user:a@example.com", models=["acct/chat", "acct/nope"])
    assert caught.value.param == "models"


async def test_expiry_must_be_in_the_future(keys: KeyManager, clock: FakeClock) -> None:
    now = int(clock() * 1000)
    assert (await keys.create(subject="user:a@example.com", expires_at=now + 1)).record.expires_at
    with pytest.raises(InvalidRequest, match="future") as caught:
        await keys.create(subject="user:a@example.com", expires_at=now)
    assert caught.value.param == "expires_at"


async def test_list_is_newest_first_filtered_and_hides_revoked(
    keys: KeyManager, clock: FakeClock
) -> None:
    first = await keys.create(subject="user:a@example.com")
    clock.advance(1)
    second = await keys.create(subject="user:b@example.com")
    clock.advance(1)
    third = await keys.create(subject="user:a@example.com")
    await keys.revoke(first.record.id)
    ids = [k.id for k in await keys.list()]
    assert ids == [third.record.id, second.record.id]
    everything = [k.id for k in await keys.list(include_revoked=True)]
    assert everything == [third.record.id, second.record.id, first.record.id]
    only_a = await keys.list(subject="user:a@example.com", include_revoked=True)
    assert [k.id for k in only_a] == [third.record.id, first.record.id]


async def test_revoke_is_idempotent_and_rotate_keeps_id_and_grants(
    keys: KeyManager, clock: FakeClock
) -> None:
    issued = await keys.create(subject="user:a@example.com", teams=["ml"], models=["acct/chat"])
    rotated = await keys.rotate(issued.record.id)
    assert rotated.secret != issued.secret
    assert rotated.record.id == issued.record.id
    assert rotated.record.digest == key_digest(rotated.secret)
    assert rotated.record.prefix == rotated.secret[:10]
    assert (rotated.record.teams, rotated.record.models) == (("team:ml",), ("acct/chat",))
    clock.advance(1)
    revoked = await keys.revoke(issued.record.id)
    assert revoked.revoked_at == int(clock() * 1000)
    clock.advance(1)
    assert (await keys.revoke(issued.record.id)).revoked_at == revoked.revoked_at
    with pytest.raises(InvalidRequest, match="revoked"):
        await keys.rotate(issued.record.id)


async def test_unknown_ids_are_not_found_and_never_echo_a_secret(keys: KeyManager) -> None:
    with pytest.raises(KeyNotFound, match="key_0123456789abcdef"):
        await keys.revoke("key_0123456789abcdef")
    pasted = "gw-this-is-a-secret-pasted-by-mistake"
    with pytest.raises(KeyNotFound) as caught:
        await keys.rotate(pasted)
    assert pasted not in caught.value.message
    with pytest.raises(InvalidRequest, match="required"):
        await keys.revoke(" ")
