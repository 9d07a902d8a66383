"""Identity fixtures: a real SQLite store on tmp_path and a clock tests move by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest

from core.store.base import ApiKeyRecord
from core.store.sqlite import SqliteStore

START = 1_750_000_000.0  # seconds since the epoch


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingStore(SqliteStore):
    """The real SQLite store, counting key lookups and last-use writes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.lookups = 0
        self.touches: list[dict[str, int]] = []

    async def find_key_by_digest(self, digest: str) -> ApiKeyRecord | None:
        self.lookups += 1
        return await super().find_key_by_digest(digest)

    async def touch_keys(self, last_used: Mapping[str, int]) -> None:
        self.touches.append(dict(last_used))
        await super().touch_keys(last_used)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CountingStore]:
    opened = CountingStore(tmp_path / "keys.db")
    await opened.open()
    yield opened
    await opened.close()
