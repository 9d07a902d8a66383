"""TtlCache: entries live exactly `ttl` seconds, the least recently used go first when full."""

from __future__ import annotations

from core.identity.cache import TtlCache
from tests.identity.conftest import FakeClock


def test_entry_lives_until_ttl_then_expires() -> None:
    clock = FakeClock()
    cache = TtlCache[str, int](ttl_seconds=5, max_entries=10, clock=clock)
    cache.put("a", 1)
    clock.advance(4.999)
    assert cache.get("a") == 1
    clock.advance(0.001)
    assert cache.get("a") is None
    assert len(cache) == 0


def test_clock_stepping_back_does_not_extend_an_entry() -> None:
    clock = FakeClock()
    cache = TtlCache[str, int](ttl_seconds=5, max_entries=10, clock=clock)
    cache.put("a", 1)
    clock.advance(-60)
    assert cache.get("a") is None


def test_least_recently_used_is_evicted_when_full() -> None:
    clock = FakeClock()
    cache = TtlCache[int, int](ttl_seconds=60, max_entries=3, clock=clock)
    for key in range(3):
        cache.put(key, key)
    assert cache.get(0) == 0  # 0 is now the most recent
    cache.put(3, 3)
    assert len(cache) == 3
    assert cache.get(1) is None
    assert [cache.get(k) for k in (0, 2, 3)] == [0, 2, 3]


def test_size_stays_bounded_under_a_flood() -> None:
    cache = TtlCache[str, bool](ttl_seconds=60, max_entries=100, clock=FakeClock())
    for n in range(10_000):
        cache.put(f"garbage-{n}", True)
    assert len(cache) == 100


def test_zero_ttl_caches_nothing_and_discard_forgets() -> None:
    clock = FakeClock()
    assert TtlCache[str, int](ttl_seconds=0, max_entries=10, clock=clock).get("a") is None
    off = TtlCache[str, int](ttl_seconds=0, max_entries=10, clock=clock)
    off.put("a", 1)
    assert off.get("a") is None
    on = TtlCache[str, int](ttl_seconds=5, max_entries=10, clock=clock)
    on.put("a", 1)
    on.discard("a")
    on.discard("missing")
    assert on.get("a") is None
