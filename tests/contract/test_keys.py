"""API keys: insert, look-ups, listing order and filters, replace, touch."""

from __future__ import annotations

from core.store.base import Store
from tests.contract.records import make_key


async def test_insert_then_get_and_find_by_digest(store: Store) -> None:
    key = make_key(
        "k1",
        teams=("red", "blue"),
        admin_teams=("red",),
        models=("openai-main/gpt-4o",),
        expires_at=9_000,
    )
    await store.insert_key(key)
    assert await store.get_key("k1") == key
    assert await store.find_key_by_digest("digest-k1") == key
    assert await store.get_key("nope") is None
    assert await store.find_key_by_digest("nope") is None


async def test_round_trip_keeps_tuples_and_nones(store: Store) -> None:
    await store.insert_key(make_key("k1"))
    found = await store.get_key("k1")
    assert found is not None
    assert found.teams == ()
    assert isinstance(found.teams, tuple)
    assert found.models == ()
    assert isinstance(found.models, tuple)
    assert found.expires_at is None
    assert found.last_used_at is None
    assert found.revoked_at is None


async def test_list_keys_newest_first_filtered_by_subject(store: Store) -> None:
    await store.insert_key(make_key("k1", 1_000))
    await store.insert_key(make_key("k3", 3_000, subject="user:bob@example.com"))
    await store.insert_key(make_key("k2", 2_000))
    assert [k.id for k in await store.list_keys()] == ["k3", "k2", "k1"]
    bob = await store.list_keys(subject="user:bob@example.com")
    assert [k.id for k in bob] == ["k3"]
    assert await store.list_keys(subject="user:nobody") == []


async def test_list_keys_excludes_revoked_unless_asked(store: Store) -> None:
    await store.insert_key(make_key("k1", 1_000))
    await store.insert_key(make_key("k2", 2_000, revoked_at=2_500))
    assert [k.id for k in await store.list_keys()] == ["k1"]
    assert [k.id for k in await store.list_keys(include_revoked=True)] == ["k2", "k1"]


async def test_find_by_digest_returns_revoked_and_expired_keys(store: Store) -> None:
    revoked = make_key("k1", revoked_at=5)
    expired = make_key("k2", expires_at=1)
    await store.insert_key(revoked)
    await store.insert_key(expired)
    assert await store.find_key_by_digest("digest-k1") == revoked
    assert await store.find_key_by_digest("digest-k2") == expired


async def test_update_key_replaces_by_id(store: Store) -> None:
    await store.insert_key(make_key("k1", teams=("red",)))
    rotated = make_key("k1", digest="digest-new", prefix="gw-new", teams=(), revoked_at=7)
    await store.update_key(rotated)
    assert await store.get_key("k1") == rotated
    assert await store.find_key_by_digest("digest-new") == rotated
    assert await store.find_key_by_digest("digest-k1") is None


async def test_update_of_an_unknown_key_stores_nothing(store: Store) -> None:
    await store.update_key(make_key("ghost"))
    assert await store.get_key("ghost") is None


async def test_touch_keys_sets_last_used_of_several(store: Store) -> None:
    for key_id in ("k1", "k2", "k3"):
        await store.insert_key(make_key(key_id))
    await store.touch_keys({"k1": 111, "k2": 222, "missing": 333})
    await store.touch_keys({})
    found = {k.id: k.last_used_at for k in await store.list_keys()}
    assert found == {"k1": 111, "k2": 222, "k3": None}
