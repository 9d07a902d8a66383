"""Window counters: the one primitive rate limits and budgets charge, local or in a shared store.

A counter key holds integer amounts in slots (a slot is a time bucket: a sub-bucket of a
sliding window, or a whole calendar period). A `Charge` adds `amount` to slot `slot` of `key`
if the live slots `[first_slot, slot]` of that key, plus the amount, stay within `limit`
(or, with `overshoot`, if they are still under `limit` before the amount). `charge` applies a
whole list of charges together or none of them, so no rule is charged when another blocks.
`settle` later corrects a charged slot by a signed delta (actual usage minus the reservation).

Implementations: `LocalCounters` (one process, exact, no I/O) in local_counters.py;
`SqliteCounters` and `MongoCounters` in core/store/ are exact across every process sharing
their file or database. core/store/factory.py `open_counters` picks one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Charge:
    """Add `amount` to `key`'s slot `slot` if the window `[first_slot, slot]` has room."""

    key: str
    slot: int
    first_slot: int
    amount: int
    limit: int
    expires_at_ms: int
    """When the slot may be forgotten (after it has left every window that reads it)."""
    overshoot: bool = False
    """Admit while the window is under `limit` even if `amount` crosses it (budgets)."""


@dataclass(frozen=True, slots=True)
class Adjustment:
    """Add `delta` (may be negative; a slot never goes below 0) to a charged slot."""

    key: str
    slot: int
    delta: int
    expires_at_ms: int


@dataclass(frozen=True, slots=True)
class Admitted:
    """Every charge applied; `used[i]` is charge i's window total including its amount."""

    used: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Refused:
    """Nothing applied: charge `index` would not fit."""

    index: int
    used: int
    """That key's window total before the refused amount."""
    oldest_slot: int | None
    """The oldest slot of that window holding a non-zero amount (when room may come back)."""


class WindowCounters(Protocol):
    """All-or-nothing charges over slotted windows; exact for every process that shares it.

    A slot counts while `now_ms < expires_at_ms` (dead slots count as 0 and may be deleted).
    The caller awaits `open()` before the first call and `aclose()` after the last.
    """

    async def open(self) -> None:
        """Connects or creates what the counters need (local counters need nothing)."""
        ...

    async def charge(self, charges: Sequence[Charge], now_ms: int) -> Admitted | Refused:
        """Applies every charge or none (an empty list is admitted)."""
        ...

    async def settle(self, adjustments: Sequence[Adjustment]) -> None:
        """Applies corrections; never refuses (a settlement is owed, not asked for)."""
        ...

    def settle_nowait(self, adjustments: Sequence[Adjustment]) -> bool:
        """Applies corrections at once when that needs no I/O (True); False when the caller
        must await `settle` instead (then nothing was applied)."""
        ...

    async def aclose(self) -> None:
        """Releases connections; local counters hold none."""
        ...
