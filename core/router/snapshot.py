"""The config snapshot: everything a call reads from the config, built once, swapped whole.

Models and their providers, prices, the keys declared in config, and the compiled policies
live in one immutable object. A call reads `source.current` once and uses that object to the
end, so a reload (which builds a new snapshot and swaps the reference) never mixes two
configs in one call, and in-flight calls finish on the config they started with.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field

from core.auth import Principal
from core.config.loader import GatewayConfig
from core.models import ModelRegistry
from core.pricing import PriceTable
from core.router.policies import CompiledPolicies


class CallsInFlight:
    """Calls still running on one snapshot, so what a reload replaced (provider connection
    pools) is closed only once the last call that may use it has finished."""

    __slots__ = ("_count", "_on_idle")

    def __init__(self) -> None:
        self._count = 0
        self._on_idle: list[Callable[[], None]] = []

    @property
    def busy(self) -> bool:
        return self._count > 0

    def enter(self) -> None:
        self._count += 1

    def leave(self) -> None:
        self._count -= 1
        if self._count == 0 and self._on_idle:
            callbacks, self._on_idle = self._on_idle, []
            for callback in callbacks:
                callback()

    def when_idle(self, callback: Callable[[], None]) -> None:
        """Runs `callback` once no call is left (now, if none is running)."""
        if self._count == 0:
            callback()
        else:
            self._on_idle.append(callback)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One config, compiled."""

    config: GatewayConfig
    models: ModelRegistry
    prices: PriceTable
    policies: CompiledPolicies
    config_keys: Mapping[str, Principal]
    """Principals of the keys declared in config, by SHA-256 digest of the secret."""
    model_ids: frozenset[str]
    version: int = 1
    calls: CallsInFlight = field(default_factory=CallsInFlight, compare=False, repr=False)


class SnapshotSource:
    """Holds the current snapshot; `swap` replaces it atomically (one reference store)."""

    __slots__ = ("current",)

    def __init__(self, snapshot: Snapshot) -> None:
        self.current = snapshot

    def swap(self, snapshot: Snapshot) -> Snapshot:
        """Installs `snapshot`; returns the one it replaced."""
        previous, self.current = self.current, snapshot
        return previous


class LiveModelIds(Collection[str]):
    """The current snapshot's model ids (virtual ones included), for key allow-lists."""

    __slots__ = ("_source",)

    def __init__(self, source: SnapshotSource) -> None:
        self._source = source

    def __contains__(self, model: object) -> bool:
        return model in self._source.current.model_ids

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._source.current.model_ids))

    def __len__(self) -> int:
        return len(self._source.current.model_ids)
