"""Config snapshots: built from a GatewayConfig, and rebuilt when the config file changes.

A change that loads, validates and compiles is swapped in for new calls (in-flight calls keep
the snapshot they read); anything else is refused with one logged error naming the file,
document, field path and reason, and the last good config keeps serving. Providers of
accounts that did not change are kept (their connection pools stay warm); replaced ones are
closed once the last call that started on the old snapshot has finished.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from core.auth import config_principals
from core.config.loader import ConfigError, GatewayConfig, parse_config
from core.config.models import ProviderAccount
from core.identity.rules import configured_models
from core.models import build_registry, retired_providers
from core.pricing import PriceTable
from core.providers.base import Provider
from core.router.policies import compile_policies
from core.router.snapshot import Snapshot, SnapshotSource

log = logging.getLogger(__name__)

DEFAULT_POLL_SECONDS = 1.0

ProviderFactory = Callable[[ProviderAccount, str | None], Provider]


def build_snapshot(
    config: GatewayConfig,
    *,
    environ: Mapping[str, str],
    provider_factory: ProviderFactory,
    previous: Snapshot | None = None,
    source: str = "<config>",
) -> Snapshot:
    """Compiles `config`; providers are created (inside the running loop) last, so a config
    that fails to compile creates none."""
    prices = PriceTable.from_config(config)
    policies = compile_policies(config.policies, prices.by_model(), prices.kinds(), source=source)
    models = build_registry(
        config, environ, provider_factory, previous.models if previous is not None else None
    )
    return Snapshot(
        config=config,
        models=models,
        prices=prices,
        policies=policies,
        config_keys=config_principals(config.api_keys),
        model_ids=configured_models(config),
        version=previous.version + 1 if previous is not None else 1,
    )


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """What one reload did: `error` is None when the new config was applied."""

    version: int
    error: str | None = None


class ConfigReloader:
    """Polls `path` and swaps in each valid change; `reload()` applies one check now."""

    def __init__(
        self,
        path: Path,
        source: SnapshotSource,
        *,
        environ: Mapping[str, str],
        provider_factory: ProviderFactory,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
    ) -> None:
        self._path = path
        self._source = source
        self._environ = environ
        self._factory = provider_factory
        self._poll_seconds = poll_seconds
        self._seen = _digest(self._read())
        self._task: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        # Providers waiting for the calls that may use them, closed at stop() at the latest.
        self._waiting: list[list[Provider]] = []
        self._replaced: list[Snapshot] = []  # replaced snapshots with calls still running
        self._stopped = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        """Stops watching; closes every replaced provider (after the server drained)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._stopped = True
        waiting = [p for providers in self._waiting for p in providers]
        self._waiting.clear()
        await asyncio.gather(*self._retiring, _close(waiting), return_exceptions=True)

    async def reload(self) -> ReloadOutcome | None:
        """Applies the file if it changed since last seen; None when it did not."""
        content = self._read()
        digest = _digest(content)
        if digest == self._seen:
            return None
        self._seen = digest
        return self._apply(content)

    def _apply(self, content: bytes | OSError) -> ReloadOutcome:
        current = self._source.current
        try:
            if isinstance(content, OSError):
                raise content
            config = parse_config(content.decode("utf-8"), source=str(self._path))
            snapshot = build_snapshot(
                config,
                environ=self._environ,
                provider_factory=self._factory,
                previous=current,
                source=str(self._path),
            )
        except Exception as exc:  # whatever breaks, the last good config keeps serving
            message = str(exc) if isinstance(exc, ConfigError) else f"{self._path}: {exc!r}"
            log.error(
                "config reload refused, still serving version %d: %s", current.version, message
            )
            return ReloadOutcome(current.version, message)
        if config.metrics != current.config.metrics:
            log.warning("%s: gateway-metrics-config changes apply at the next restart", self._path)
        self._source.swap(snapshot)
        self._retire(retired_providers(current.models, snapshot.models), current)
        log.info("config reloaded from %s (version %d)", self._path, snapshot.version)
        return ReloadOutcome(snapshot.version)

    def _retire(self, providers: list[Provider], old: Snapshot) -> None:
        # A provider can outlive several reloads unchanged, so calls on any older snapshot
        # may still use it: it closes once every snapshot holding it has no call left.
        self._replaced = [s for s in (*self._replaced, old) if s.calls.busy]
        if not providers:
            return
        retiring = {id(p) for p in providers}
        holders = [
            s
            for s in self._replaced
            if any(id(a.provider) in retiring for a in s.models.providers.values())
        ]
        batch = list(providers)
        self._waiting.append(batch)
        pending = [len(holders)]
        loop = asyncio.get_running_loop()

        def one_idle() -> None:
            pending[0] -= 1
            if pending[0] > 0 or self._stopped or batch not in self._waiting:
                return
            self._waiting.remove(batch)
            task = loop.create_task(_close(batch))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

        if not holders:
            pending[0] = 1
            one_idle()
        for holder in holders:
            holder.calls.when_idle(one_idle)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._poll_seconds)
            try:
                await self.reload()
            except Exception:  # the watcher must outlive any one bad reload
                log.exception("config reload failed")

    def _read(self) -> bytes | OSError:
        # Read once per check: what is compared is exactly what gets parsed.
        try:
            return self._path.read_bytes()
        except OSError as exc:
            return exc


def _digest(content: bytes | OSError) -> str | None:
    return hashlib.sha256(content).hexdigest() if isinstance(content, bytes) else None


async def _close(providers: list[Provider]) -> None:
    await asyncio.gather(*(p.aclose() for p in providers), return_exceptions=True)
