"""Window counters in this process's memory: exact for one gateway instance, no I/O.

This is the admission hot path of a single-instance gateway, so a charge does little: a
dict look-up per key, a sum over the window's slots, and an in-place add. A slot is a
two-item list `[amount, expires_at_ms]` updated in place, so charging an existing slot
allocates nothing. A slot is live while `now_ms < expires_at_ms`: window sums skip dead
slots, and a dead slot written again starts from 0. Dead slots are swept at most once per
`sweep_every_ms` of the charges' clock, never per charge.

`window_total` and `oldest_live` are the window rules; the MongoDB counters read their
documents with the same two functions.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.router.counters import Adjustment, Admitted, Charge, Refused

SWEEP_EVERY_MS = 60_000

Slots = dict[int, list[int]]
"""slot -> [amount, expires_at_ms] of one key."""
# What an unknown key reads as; never written (a charge gives the key its own dict).
_NO_SLOTS: Slots = {}


def window_total(slots: Slots, first: int, last: int, now_ms: int) -> int:
    """The sum of the live slots in `[first, last]`."""
    total = 0
    if last - first < len(slots):  # a short window: look its slots up
        for slot in range(first, last + 1):
            entry = slots.get(slot)
            if entry is not None and entry[1] > now_ms:
                total += entry[0]
    else:
        for slot, (amount, expires_at) in slots.items():
            if first <= slot <= last and expires_at > now_ms:
                total += amount
    return total


def oldest_live(slots: Slots, first: int, last: int, now_ms: int) -> int | None:
    """The smallest live slot in `[first, last]` holding a non-zero amount."""
    found = [
        slot
        for slot, (amount, expires_at) in slots.items()
        if first <= slot <= last and amount and expires_at > now_ms
    ]
    return min(found, default=None)


def fits(charge: Charge, total: int) -> bool:
    """Whether `charge` may be added to a window holding `total`."""
    if charge.overshoot:
        return total < charge.limit
    return total + charge.amount <= charge.limit


def add(slots: Slots, slot: int, delta: int, expires_at_ms: int, now_ms: int) -> None:
    """Adds `delta` to `slot` (a dead or missing slot counts as 0), never below 0."""
    entry = slots.get(slot)
    if entry is None or entry[1] <= now_ms:
        if delta > 0:
            slots[slot] = [delta, expires_at_ms]
        elif entry is not None:
            del slots[slot]
        return
    entry[0] = max(entry[0] + delta, 0)
    if expires_at_ms > entry[1]:
        entry[1] = expires_at_ms


class LocalCounters:
    """`WindowCounters` in a dict: exact within this process, shared with no other."""

    def __init__(self, *, sweep_every_ms: int = SWEEP_EVERY_MS) -> None:
        self._keys: dict[str, Slots] = {}
        self._sweep_every_ms = sweep_every_ms
        self._next_sweep_ms = 0
        # The latest charge clock: what `settle` (which has none) treats as now.
        self._now_ms = 0

    async def open(self) -> None:
        """Nothing to open."""

    async def aclose(self) -> None:
        """Nothing to release."""

    async def charge(self, charges: Sequence[Charge], now_ms: int) -> Admitted | Refused:
        if now_ms > self._now_ms:
            self._now_ms = now_ms
        if now_ms >= self._next_sweep_ms:
            self._sweep(now_ms)
        keys = self._keys
        used: list[int] = []
        # Each charge is added as soon as it fits, so a later charge of the same key sees it;
        # a refusal takes the earlier ones back out. Nothing awaits in between.
        for index, charge in enumerate(charges):
            slots = keys.get(charge.key, _NO_SLOTS)
            total = window_total(slots, charge.first_slot, charge.slot, now_ms)
            if not fits(charge, total):
                oldest = oldest_live(slots, charge.first_slot, charge.slot, now_ms)
                self._take_back(charges[:index], now_ms)
                return Refused(index=index, used=total, oldest_slot=oldest)
            if charge.amount:
                if slots is _NO_SLOTS:
                    slots = keys[charge.key] = {}
                add(slots, charge.slot, charge.amount, charge.expires_at_ms, now_ms)
            used.append(total + charge.amount)
        return Admitted(used=tuple(used))

    async def settle(self, adjustments: Sequence[Adjustment]) -> None:
        self.settle_nowait(adjustments)

    def settle_nowait(self, adjustments: Sequence[Adjustment]) -> bool:
        # In memory: applied on the spot, no task to schedule per call.
        for adjustment in adjustments:
            slots = self._keys.get(adjustment.key)
            if slots is None:
                if adjustment.delta <= 0:
                    continue
                slots = self._keys[adjustment.key] = {}
            add(slots, adjustment.slot, adjustment.delta, adjustment.expires_at_ms, self._now_ms)
        return True

    def _take_back(self, applied: Sequence[Charge], now_ms: int) -> None:
        for charge in applied:
            if charge.amount:
                add(self._keys[charge.key], charge.slot, -charge.amount, 0, now_ms)

    def _sweep(self, now_ms: int) -> None:
        self._next_sweep_ms = now_ms + self._sweep_every_ms
        emptied = []
        for key, slots in self._keys.items():
            for slot in [s for s, (_, expires_at) in slots.items() if expires_at <= now_ms]:
                del slots[slot]
            if not slots:
                emptied.append(key)
        for key in emptied:
            del self._keys[key]
