"""The config snapshot: everything a call reads from the config, built once, swapped whole.

Models and their providers, prices, the keys declared in config, and the compiled policies
live in one immutable object. A call reads `source.current` once and uses that object to the
end, so a reload (which builds a new snapshot and swaps the reference) never mixes two
configs in one call, and in-flight calls finish on the config they started with.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

from core.auth import Principal
from core.config.loader import GatewayConfig
from core.models import ModelRegistry
from core.pricing import PriceTable
from core.router.policies import CompiledPolicies


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
