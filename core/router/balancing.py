"""Load balancing: the ordered targets one call will try, from the first matching rule.

- weight-based: the first target drawn by weight (among targets not cooling down), then the
  other fallback candidates by weight, heaviest first.
- priority-based: lowest `priority` first, the next on failure.
- latency-based: targets whose recent milliseconds per output token are within 1.2x of the
  fastest count as equally fast (an unmeasured target counts as fastest, so it gets
  measured); of two drawn at random among those, the one with fewer calls in flight goes
  first (power of two choices), so the "fastest" target is not flooded. The rest follow,
  fastest first.
Targets cooling down are skipped; when every target is, the call fails fast (503).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from core.errors import NoTargetAvailable
from core.router.health import TargetHealth
from core.router.policies import LOAD_BALANCING_CONFIG, BalanceRule, Target

EQUALLY_FAST = 1.2
"""Targets within this factor of the fastest are treated as equally fast."""


def plan_targets(rule: BalanceRule, health: TargetHealth, rng: random.Random) -> list[Target]:
    """The targets to try in order: the chosen one, then its fallback candidates."""
    ready = [t for t in rule.targets if not health.cooling(rule.id, t.model)]
    if not ready:
        raise NoTargetAvailable(
            f"every target of load-balancing rule {rule.id!r} is cooling down after failures",
            details={"rule_id": rule.id, "config_type": LOAD_BALANCING_CONFIG},
        )
    if rule.strategy == "weight-based-routing":
        first = _by_weight(ready, rng)
        rest = sorted((t for t in ready if t is not first), key=lambda t: -t.weight)
    elif rule.strategy == "priority-based-routing":
        ordered = sorted(ready, key=lambda t: t.priority)
        first, rest = ordered[0], ordered[1:]
    else:
        first, rest = _by_latency(rule.id, ready, health, rng)
    return [first, *(t for t in rest if t.fallback_candidate)]


def _by_weight(ready: Sequence[Target], rng: random.Random) -> Target:
    total = sum(t.weight for t in ready)
    if total <= 0:
        return ready[0]
    point = rng.random() * total
    for target in ready:
        point -= target.weight
        if point < 0:
            return target
    return ready[-1]


def _by_latency(
    rule_id: str, ready: Sequence[Target], health: TargetHealth, rng: random.Random
) -> tuple[Target, list[Target]]:
    speeds = {t.model: health.ms_per_token(rule_id, t.model) or 0.0 for t in ready}
    fastest = min(speeds.values())
    equals = [t for t in ready if speeds[t.model] <= fastest * EQUALLY_FAST]
    first = equals[0]
    if len(equals) > 1:
        a, b = rng.sample(equals, 2)
        load_a, load_b = health.in_flight(rule_id, a.model), health.in_flight(rule_id, b.model)
        first = a if load_a < load_b or (load_a == load_b and rng.random() < 0.5) else b
    rest = sorted((t for t in ready if t is not first), key=lambda t: speeds[t.model])
    return first, rest
