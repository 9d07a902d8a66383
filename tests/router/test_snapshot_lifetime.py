"""A reload never closes a provider a running call may still use: not during admission, not
when the provider outlived several reloads, and not for a run whose events were never read."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from core.auth import Principal
from core.config.loader import parse_config
from core.config.models import ProviderAccount
from core.pricing import PriceTable
from core.providers.mock import MockProvider
from core.recording import CallContext, NullRecorder
from core.router.counters import Admitted, Refused
from core.router.local_counters import LocalCounters
from core.router.policies import compile_policies
from core.router.reload import ConfigReloader, build_snapshot
from core.router.snapshot import SnapshotSource
from gateway.v1 import chat_pb2
from tests.router.conftest import ACCOUNTS, MESSAGES, gateway

CONTEXT = CallContext("rid", "rid", Principal("user:a@example.com", "k"), {}, False, 0, 0)


class Recorded(MockProvider):
    """A mock provider that says when it is closed."""

    def __init__(self, account: ProviderAccount) -> None:
        super().__init__(account)
        self.closed = asyncio.Event()

    async def aclose(self) -> None:
        self.closed.set()


async def test_a_provider_kept_over_reloads_closes_after_the_oldest_call(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(ACCOUNTS)
    built: dict[str, list[Recorded]] = {}

    def factory(account: ProviderAccount, key: str | None) -> Recorded:
        provider = Recorded(account)
        built.setdefault(account.name, []).append(provider)
        return provider

    source = SnapshotSource(
        build_snapshot(parse_config(ACCOUNTS), environ={}, provider_factory=factory)
    )
    reloader = ConfigReloader(path, source, environ={}, provider_factory=factory)
    first = source.current
    first.calls.enter()  # a long stream on version 1, using mock-a
    path.write_text(ACCOUNTS.replace("name: mock-b\n", "name: mock-b\nheaders: {x: '1'}\n"))
    assert (await reloader.reload()).error is None  # type: ignore[union-attr]  # keeps mock-a
    path.write_text(ACCOUNTS.replace("timeout_seconds: 0.2", "timeout_seconds: 0.3", 1))
    assert (await reloader.reload()).error is None  # type: ignore[union-attr]  # replaces it
    old_a = built["mock-a"][0]
    assert len(built["mock-a"]) == 2
    assert not old_a.closed.is_set()  # version 2 is idle, but version 1 still streams
    first.calls.leave()
    await asyncio.wait_for(old_a.closed.wait(), 5)
    await reloader.stop()


async def test_a_reload_during_admission_keeps_the_call_on_its_snapshot(tmp_path: Path) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    class Slow(LocalCounters):
        async def charge(self, charges: Any, now_ms: int) -> Admitted | Refused:
            entered.set()
            await release.wait()
            return await super().charge(charges, now_ms)

    policy = """
name: limits
type: gateway-rate-limiting-config
rules:
  - {id: any, limit_to: 5, unit: requests_per_minute}
"""
    path = tmp_path / "gateway.yaml"
    async with gateway(policy, data_dir=tmp_path, counters=Slow(), config_path=path) as gw:
        assert gw.core.reloader is not None
        call = asyncio.create_task(
            gw.openai.chat.completions.create(model="mock-a/echo", messages=MESSAGES)
        )
        await entered.wait()
        before = gw.core.source.current
        assert before.calls.busy  # counted from the moment it read the snapshot
        path.write_text(path.read_text().replace("timeout_seconds: 0.2", "timeout_seconds: 0.3"))
        assert (await gw.core.reloader.reload()).error is None  # type: ignore[union-attr]
        release.set()
        assert (await call).model == "mock-a/echo"
        assert not before.calls.busy


async def test_a_run_never_read_still_settles_and_releases(tmp_path: Path) -> None:
    async with gateway(data_dir=tmp_path) as gw:
        params = chat_pb2.ChatParams(
            model="mock-a/echo", messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, text="x")]
        )
        trace = NullRecorder().chat(CONTEXT, params)
        run = await gw.core.router.start_chat(params, CONTEXT, trace, stream=False)
        assert gw.core.source.current.calls.busy
        await run.aclose()
        assert not gw.core.source.current.calls.busy


def test_budget_reservations_see_rules_without_models_on_virtual_models() -> None:
    config = parse_config(
        ACCOUNTS.replace("input_per_million: 1000", "input_per_million: 9000", 2).replace(
            "name: mock-a\n", "name: mock-a\n", 1
        )
        + """---
name: lb
type: gateway-load-balancing-config
rules:
  - id: admins
    type: priority-based-routing
    when: {subjects: ["user:admin"]}
    load_balance_targets: [{target: mock-b/echo, priority: 0}]
  - id: smart
    type: priority-based-routing
    when: {models: [smart]}
    load_balance_targets: [{target: mock-c/echo, priority: 0}]
"""
    )
    prices = PriceTable.from_config(config)
    policies = compile_policies(config.policies, prices.by_model(), prices.kinds())
    # An admin calling `smart` is routed to mock-b: the reservation uses mock-b's price.
    assert policies.reserve_prices["smart"].input_per_million == 9000
