"""Window counters in MongoDB: exact across every gateway instance, without transactions.

One document per key, its live slots sorted, `x` the latest expiry among them:

    {_id: key, v: version, s: [[slot, amount, expires_at_ms], ...], x: expires_at_ms}

Every write is a compare-and-swap on the version: `update_one({_id, v: read}, {$set: ...})`,
or `insert_one` for a new key (a duplicate key: another instance was first). It applies only
if nobody wrote the document since it was read; else the document is read again and the
change recomputed, up to MAX_ATTEMPTS times with a short jittered pause, then
`CounterConflict`. Only single-document atomicity is needed, so any MongoDB-compatible
server works: no replica set, no multi-document transactions.

A charge reads every key's document (one round trip) and decides on them: if a charge does
not fit it is refused there, nothing written. Otherwise every key is written at once (one
update each, concurrently); if a document changed meanwhile and its charges no longer fit,
the keys that were written are taken back out (a compare-and-swap decrement) before the
refusal. Until they are, a
concurrent request sees those amounts and may be refused: the counters may briefly
under-admit, never over-admit. A charge that fails part-way (a server error) takes back
what it wrote, as far as it can; one cancelled part-way, or a write whose outcome is
unknown, may leave its amounts counted until their slots expire (again the safe side).

Within one process, calls on the same key take turns (striped asyncio locks): conflicts
then come only from other processes, and a burst of requests on one key does not retry
in a storm. Dead slots are dropped whenever a document is written; documents whose slots
are all dead are deleted (by the `x` index) at most once per `sweep_every_ms` of the
charges' clock. A new document's version starts at a random number, so a read of a
deleted document can never match one created again later.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from core.router.counters import Adjustment, Admitted, Charge, Refused
from core.router.local_counters import Slots, add, fits, oldest_live, window_total
from core.store.mongo_client import close_client

log = logging.getLogger(__name__)

COLLECTION = "window_counters"
MAX_ATTEMPTS = 64
BACKOFF_S = 0.0005
STRIPES = 256
SWEEP_EVERY_MS = 60_000

Indexed = list[tuple[int, Charge]]
Delta = tuple[int, int, int]
"""(slot, delta, expires_at_ms)."""


class CounterConflict(RuntimeError):
    """A key's document changed under every compare-and-swap attempt."""


@dataclass(slots=True)
class _Doc:
    """A key's document as read (version 0: none), its slots updated as charges fit."""

    version: int
    slots: Slots


def _doc(found: Mapping[str, Any] | None, now_ms: int) -> _Doc:
    if found is None:
        return _Doc(0, {})
    return _Doc(found["v"], {slot: [a, e] for slot, a, e in found["s"] if e > now_ms})


def _fit(indexed: Indexed, docs: dict[str, _Doc], now_ms: int, used: list[int]) -> Refused | None:
    """Adds each charge to its document's slots, in order; the first that does not fit."""
    for index, charge in indexed:
        slots = docs[charge.key].slots
        total = window_total(slots, charge.first_slot, charge.slot, now_ms)
        if not fits(charge, total):
            oldest = oldest_live(slots, charge.first_slot, charge.slot, now_ms)
            return Refused(index=index, used=total, oldest_slot=oldest)
        if charge.amount:
            add(slots, charge.slot, charge.amount, charge.expires_at_ms, now_ms)
        used[index] = total + charge.amount
    return None


async def _pause(attempt: int) -> None:
    # Jittered, so that the instances that collided do not collide again.
    await asyncio.sleep(random.uniform(0, BACKOFF_S * min(attempt, 16)))


class MongoCounters:
    """`WindowCounters` in `database[collection]`; `open()` creates the index.

    With `owns_client`, `aclose()` closes the database's client.
    """

    def __init__(
        self,
        database: AsyncDatabase[dict[str, Any]],
        *,
        collection: str = COLLECTION,
        owns_client: bool = False,
        sweep_every_ms: int = SWEEP_EVERY_MS,
    ) -> None:
        self._database = database
        self._collection: AsyncCollection[dict[str, Any]] = database[collection]
        self._owns_client = owns_client
        self._sweep_every_ms = sweep_every_ms
        self._next_sweep_ms = 0
        # The latest charge clock: what `settle` (which has none) treats as now.
        self._now_ms = 0
        self._stripes = tuple(asyncio.Lock() for _ in range(STRIPES))

    async def open(self) -> None:
        await self._collection.create_index([("x", 1)], name="x")

    async def aclose(self) -> None:
        if self._owns_client:
            await close_client(self._database.client)

    async def charge(self, charges: Sequence[Charge], now_ms: int) -> Admitted | Refused:
        if not charges:
            return Admitted(used=())
        self._now_ms = max(self._now_ms, now_ms)
        if now_ms >= self._next_sweep_ms:
            self._next_sweep_ms = now_ms + self._sweep_every_ms
            await self._collection.delete_many({"x": {"$lte": now_ms}})
        by_key: dict[str, Indexed] = {}
        for index, charge in enumerate(charges):
            by_key.setdefault(charge.key, []).append((index, charge))
        async with self._locked(by_key):
            docs = await self._read(list(by_key), now_ms)
            used = [0] * len(charges)
            refused = _fit(list(enumerate(charges)), docs, now_ms, used)
            if refused is not None:
                return refused
            # One update per key, all at once: a charge costs two round trips, not one per key.
            keys = [k for k, indexed in by_key.items() if any(c.amount for _, c in indexed)]
            outcomes = await asyncio.gather(
                *(self._write(key, by_key[key], docs, now_ms, used) for key in keys),
                return_exceptions=True,
            )
            if any(outcome is not None for outcome in outcomes):
                written = [
                    key for key, outcome in zip(keys, outcomes, strict=True) if outcome is None
                ]
                await self._take_back(written, by_key, docs, now_ms)
                refusals: list[Refused] = []
                for outcome in outcomes:
                    if isinstance(outcome, BaseException):
                        raise outcome
                    if outcome is not None:
                        refusals.append(outcome)
                return min(refusals, key=lambda refused: refused.index)
        return Admitted(used=tuple(used))

    def settle_nowait(self, adjustments: Sequence[Adjustment]) -> bool:
        return False  # a store round trip: the caller awaits `settle`

    async def settle(self, adjustments: Sequence[Adjustment]) -> None:
        by_key: dict[str, list[Delta]] = {}
        for a in adjustments:
            by_key.setdefault(a.key, []).append((a.slot, a.delta, a.expires_at_ms))
        async with self._locked(by_key):
            await asyncio.gather(
                *(self._adjust(key, deltas, None, self._now_ms) for key, deltas in by_key.items())
            )

    @asynccontextmanager
    async def _locked(self, keys: Mapping[str, object]) -> AsyncIterator[None]:
        # Stripes in index order: two calls never wait for each other's stripes crosswise.
        async with AsyncExitStack() as stack:
            for stripe in sorted({hash(key) % STRIPES for key in keys}):
                await stack.enter_async_context(self._stripes[stripe])
            yield

    async def _read(self, keys: list[str], now_ms: int) -> dict[str, _Doc]:
        if len(keys) == 1:
            return {keys[0]: _doc(await self._collection.find_one({"_id": keys[0]}), now_ms)}
        found = {d["_id"]: d async for d in self._collection.find({"_id": {"$in": keys}})}
        return {key: _doc(found.get(key), now_ms) for key in keys}

    async def _write(
        self, key: str, indexed: Indexed, docs: dict[str, _Doc], now_ms: int, used: list[int]
    ) -> Refused | None:
        """Writes the key's document as `_fit` left it; on a conflict reads it again and
        fits the key's charges anew. The refusal if they no longer fit."""
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                await _pause(attempt)
                docs[key] = await self._read_one(key, now_ms)
                refused = _fit(indexed, docs, now_ms, used)
                if refused is not None:
                    return refused
            if await self._swap(key, docs[key], now_ms):
                return None
        raise CounterConflict(f"window counter {key!r}: {MAX_ATTEMPTS} write conflicts")

    async def _take_back(
        self, keys: list[str], by_key: dict[str, Indexed], docs: dict[str, _Doc], now_ms: int
    ) -> None:
        for key in keys:
            deltas = [(c.slot, -c.amount, c.expires_at_ms) for _, c in by_key[key] if c.amount]
            try:
                await self._adjust(key, deltas, docs[key], now_ms)
            except Exception:
                # Counted until the slots expire: fewer requests admitted, never more.
                log.exception("window counter %r: taking back a refused charge failed", key)

    async def _adjust(self, key: str, deltas: list[Delta], doc: _Doc | None, now_ms: int) -> None:
        """Adds `deltas`, starting from `doc` when it is known to be recent."""
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                await _pause(attempt)
            if doc is None:
                doc = await self._read_one(key, now_ms)
            if doc.version == 0 and all(delta <= 0 for _, delta, _ in deltas):
                return  # nothing to take from a key that has nothing
            # A copy: a failed swap must leave `doc` as it was read.
            changed = _Doc(doc.version, {slot: list(e) for slot, e in doc.slots.items()})
            for slot, delta, expires_at_ms in deltas:
                add(changed.slots, slot, delta, expires_at_ms, now_ms)
            if await self._swap(key, changed, now_ms):
                return
            doc = None
        raise CounterConflict(f"window counter {key!r}: {MAX_ATTEMPTS} write conflicts")

    async def _read_one(self, key: str, now_ms: int) -> _Doc:
        return _doc(await self._collection.find_one({"_id": key}), now_ms)

    async def _swap(self, key: str, doc: _Doc, now_ms: int) -> bool:
        """Writes `doc` if its version is still the stored one; on success `doc` takes the
        new version."""
        entries = [
            [slot, amount, expires_at]
            for slot, (amount, expires_at) in sorted(doc.slots.items())
            if amount > 0 and expires_at > now_ms
        ]
        latest = max((expires_at for *_, expires_at in entries), default=0)
        if doc.version == 0:
            version = random.randrange(1, 1 << 52)
            try:
                await self._collection.insert_one(
                    {"_id": key, "v": version, "s": entries, "x": latest}
                )
            except DuplicateKeyError:
                return False
        else:
            version = doc.version + 1
            result = await self._collection.update_one(
                {"_id": key, "v": doc.version},
                {"$set": {"v": version, "s": entries, "x": latest}},
            )
            if result.matched_count != 1:
                return False
        doc.version = version
        return True
