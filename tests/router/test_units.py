"""The pure parts of routing: weighted draws, latency choice, retry waits, cooldown expiry,
and the no-edge-burst window."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from core.errors import UpstreamFailed, UpstreamRejected
from core.router.attempts import AttemptChain
from core.router.balancing import plan_targets
from core.router.counters import Admitted, Charge
from core.router.health import TargetHealth
from core.router.local_counters import LocalCounters
from core.router.matching import Matcher
from core.router.policies import BalanceRule, Target, Tolerance
from core.router.snapshot import CallsInFlight
from core.router.windows import SLOTS, CalendarPeriod, Period, SlidingWindow


class Clock:
    def __init__(self) -> None:
        self.ms = 1_000_000

    def __call__(self) -> int:
        return self.ms


def rule(strategy: str, *targets: Target) -> BalanceRule:
    return BalanceRule("r", strategy, Matcher(), targets)  # type: ignore[arg-type]


def test_weight_split_within_statistical_bounds() -> None:
    lb = rule("weight-based-routing", Target("a/x", weight=70), Target("b/x", weight=30))
    health, rng = TargetHealth(Clock()), random.Random(7)
    firsts = [plan_targets(lb, health, rng)[0].model for _ in range(2000)]
    share = firsts.count("a/x") / 2000
    # 4 standard deviations of a binomial(2000, 0.7) share: ~0.041.
    assert abs(share - 0.7) < 0.041
    assert plan_targets(lb, health, rng)[1:] in (
        [Target("b/x", weight=30)],
        [Target("a/x", weight=70)],
    )


def test_latency_prefers_the_fast_target_and_spreads_among_equals() -> None:
    fast, slow, also_fast = Target("fast/x"), Target("slow/x"), Target("also/x")
    lb = rule("latency-based-routing", fast, slow, also_fast)
    clock = Clock()
    health, rng = TargetHealth(clock), random.Random(3)
    for _ in range(5):
        health.observed("r", "fast/x", 100.0, 100)  # 1 ms per token
        health.observed("r", "also/x", 110.0, 100)  # within 1.2x: equally fast
        health.observed("r", "slow/x", 500.0, 100)
    firsts = [plan_targets(lb, health, rng)[0].model for _ in range(400)]
    assert "slow/x" not in firsts
    assert 120 < firsts.count("also/x") < 280  # spread, not flooded onto one
    for _ in range(10):
        health.started("r", "fast/x")  # busy: power of two choices avoids it
    firsts = [plan_targets(lb, health, rng)[0].model for _ in range(100)]
    assert firsts.count("also/x") == 100


def test_cooldown_is_entered_and_left() -> None:
    clock = Clock()
    health = TargetHealth(clock)
    tolerance = Tolerance(allowed_per_minute=1, cooldown_ms=60_000, on_status=frozenset({503}))
    assert not health.failed("r", "a/x", 503, tolerance, None)
    assert not health.failed("r", "a/x", 400, tolerance, None)  # not a listed status
    assert health.failed("r", "a/x", 503, tolerance, None)
    assert health.cooling("r", "a/x")
    clock.ms += 60_000
    assert not health.cooling("r", "a/x")


def test_retry_waits_backoff_or_retry_after_and_gives_up_past_the_deadline() -> None:
    target = Target("a/x", attempts=3, retry_delay_ms=100, retry_on=frozenset({429, 503}))
    chain = AttemptChain([target], None, deadline=None, rng=random.Random(1))
    step = chain.first()
    second = chain.after(step, UpstreamFailed("x", upstream_status=503))
    assert second is not None
    assert second.number == 2
    assert 0.05 <= second.wait_seconds <= 0.15
    limited = UpstreamRejected("x", upstream_status=429, details={"retry_after_seconds": "2"})
    third = chain.after(second, limited)
    assert third is not None
    assert third.wait_seconds == pytest.approx(2.0)
    assert chain.after(third, limited) is None  # attempts spent, nothing to fall back to
    late = AttemptChain([target], None, deadline=0.0, rng=random.Random(1))
    assert late.after(late.first(), limited) is None  # the wait would cross the deadline


async def test_no_burst_at_a_window_edge() -> None:
    window = SlidingWindow(60_000)
    counters = LocalCounters()
    limit = 10

    async def admit(now: int) -> bool:
        slot, first_slot, expires_at_ms = window.place(now)
        charge = Charge("k", slot, first_slot, 1, limit, expires_at_ms)
        return isinstance(await counters.charge([charge], now), Admitted)

    edge = 60_000 * 1000  # a minute boundary
    admitted = [t for t in range(edge - 500, edge) if await admit(t)]
    assert len(admitted) == limit
    # Just after the boundary a fixed window would admit 10 more: within one minute of the
    # first admission, the sliding window admits none.
    assert not [t for t in range(edge, edge + 59_000, 100) if await admit(t)]
    # Once those have left the window (plus one sub-bucket), the limit is available again.
    free = edge + 60_000 + window.slot_ms
    assert await admit(free)
    assert SLOTS == 60


@pytest.mark.parametrize(
    ("period", "now", "start", "end"),
    [
        ("day", "2026-12-02T13:45", "2026-12-02", "2026-12-03"),
        ("week", "2026-12-02T13:45", "2026-11-30", "2026-12-07"),  # ISO weeks start Monday
        ("month", "2026-12-31T23:59", "2026-12-01", "2027-01-01"),
        ("month", "2027-02-10T00:00", "2027-02-01", "2027-03-01"),
    ],
)
def test_budget_periods_are_utc_calendar_periods(
    period: Period, now: str, start: str, end: str
) -> None:
    def ms(text: str) -> int:
        return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp() * 1000)

    window = CalendarPeriod(period)
    assert window.bounds(ms(now)) == (ms(start), ms(end))
    slot, first_slot, expires_at = window.place(ms(now))
    assert slot == first_slot == ms(start)
    assert expires_at > ms(end)
    assert window.free_at_ms(slot) == ms(end)


def test_replaced_providers_close_after_the_last_call_on_their_snapshot() -> None:
    calls = CallsInFlight()
    closed: list[str] = []
    calls.enter()
    calls.enter()
    calls.when_idle(lambda: closed.append("closed"))
    calls.leave()
    assert closed == []
    calls.leave()
    assert closed == ["closed"]
    idle = CallsInFlight()
    idle.when_idle(lambda: closed.append("at once"))
    assert closed == ["closed", "at once"]


def test_override_params_on_embedding_targets_are_refused_at_load() -> None:
    from core.config.loader import ConfigError, parse_config
    from core.pricing import PriceTable
    from core.router.policies import compile_policies
    from tests.router.conftest import ACCOUNTS

    config = parse_config(
        ACCOUNTS
        + """---
name: fb
type: gateway-fallback-config
rules:
  - id: emb
    when: {models: [mock-a/embed]}
    fallback_models: [{target: mock-b/embed, override_params: {temperature: 0.1}}]
"""
    )
    prices = PriceTable.from_config(config)
    with pytest.raises(ConfigError, match="rule emb: override_params apply to chat targets only"):
        compile_policies(config.policies, prices.by_model(), prices.kinds())


def test_an_avoided_target_is_measured_again_after_a_minute() -> None:
    clock = Clock()
    health = TargetHealth(clock)
    health.observed("r", "a/x", 20.0, 1)
    health.failed("r", "a/x", 503, None, None)
    assert (health.ms_per_token("r", "a/x") or 0) > 100  # avoided for now
    health.failed("r", "b/x", 400, None, None)  # a caller's 4xx is not the provider's trouble
    assert health.ms_per_token("r", "b/x") is None
    clock.ms += 61_000
    assert health.ms_per_token("r", "a/x") is None  # stale: counts as unmeasured, gets tried
    health.observed("r", "a/x", 20.0, 1)
    assert health.ms_per_token("r", "a/x") == 20.0  # not mixed with the stale penalty
