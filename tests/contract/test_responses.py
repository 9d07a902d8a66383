"""Stored Responses API responses: insert once, get byte for byte, delete, age out."""

from __future__ import annotations

from core.store.base import Store, StoredResponseRecord


def stored(response_id: str, created_at: int = 1_000, key_id: str = "k1") -> StoredResponseRecord:
    # Bytes that are not UTF-8 (as a serialized proto's are): a store must keep them opaque.
    body = b"\x00\xff" + response_id.encode() + bytes(range(256))
    return StoredResponseRecord(id=response_id, key_id=key_id, created_at=created_at, body=body)


async def test_a_stored_response_comes_back_byte_for_byte(store: Store) -> None:
    response = stored("resp_1")
    assert await store.insert_response(response) is True
    assert await store.get_response("resp_1") == response
    assert await store.get_response("resp_2") is None


async def test_an_id_is_stored_once_and_the_first_stays(store: Store) -> None:
    first = stored("resp_1", key_id="k1")
    assert await store.insert_response(first)
    assert await store.insert_response(stored("resp_1", 2_000, key_id="k2")) is False
    assert await store.get_response("resp_1") == first


async def test_delete_says_whether_there_was_one(store: Store) -> None:
    await store.insert_response(stored("resp_1"))
    await store.insert_response(stored("resp_2"))
    assert await store.delete_response("resp_1") is True
    assert await store.delete_response("resp_1") is False
    assert await store.get_response("resp_1") is None
    assert await store.get_response("resp_2") is not None


async def test_old_responses_go_in_bounded_batches(store: Store) -> None:
    for i in range(5):
        await store.insert_response(stored(f"old_{i}", created_at=100 + i))
    await store.insert_response(stored("new", created_at=5_000))
    assert await store.delete_responses_before(1_000, batch_size=3) == 3
    assert await store.delete_responses_before(1_000, batch_size=3) == 2
    assert await store.delete_responses_before(1_000, batch_size=3) == 0
    assert await store.delete_responses_before(1_000, batch_size=0) == 0
    assert [await store.get_response(f"old_{i}") for i in range(5)] == [None] * 5
    assert await store.get_response("new") is not None
