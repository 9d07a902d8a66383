"""A small LRU cache whose entries expire after a TTL: bounded in both time and size."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

from core.identity.clock import Clock

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Maps keys to values for `ttl_seconds`, keeping at most `max_entries` (least recent out).

    An entry is served only while `0 <= now - stored_at < ttl_seconds`, so a clock stepping
    backwards never stretches its life; a TTL of 0 caches nothing.
    """

    def __init__(self, *, ttl_seconds: float, max_entries: int, clock: Clock) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The live value of `key`, or None (expired entries are dropped)."""
        item = self._items.get(key)
        if item is None:
            return None
        stored_at, value = item
        age = self._clock() - stored_at
        if not 0 <= age < self._ttl:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        """Stores `value`, evicting the least recently used entry when full."""
        if self._ttl <= 0:
            return
        self._items[key] = (self._clock(), value)
        self._items.move_to_end(key)
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    def discard(self, key: K) -> None:
        """Forgets `key` (no error when absent)."""
        self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)
