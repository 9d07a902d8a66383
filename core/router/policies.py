"""The routing policies of one config, compiled for the request path.

Config documents (core/config/policies.py) become plain frozen rules with precomputed sets,
windows, cumulative weights and override patches, each kind in a `RuleIndex` by model, so
matching a request walks no YAML and builds nothing per rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from codec import CodecError, chat_params_from_json
from core.config.loader import ConfigError
from core.config.models import ModelPrice
from core.config.policies import (
    BudgetRule as BudgetRuleConfig,
    FailureTolerance,
    FallbackRule as FallbackRuleConfig,
    LoadBalanceRule as LoadBalanceRuleConfig,
    Policies,
    RateLimitRule as RateLimitRuleConfig,
    When,
)
from core.pricing import NANO_DOLLARS
from core.router.matching import Matcher, RuleIndex
from core.router.windows import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    CalendarPeriod,
    Period,
    SlidingWindow,
    Window,
)
from gateway.v1.chat_pb2 import ChatParams

RATE_LIMIT_CONFIG = "gateway-rate-limiting-config"
BUDGET_CONFIG = "gateway-budget-config"
LOAD_BALANCING_CONFIG = "gateway-load-balancing-config"
FALLBACK_CONFIG = "gateway-fallback-config"


Measure = Literal["requests", "tokens", "cost"]
Strategy = Literal["weight-based-routing", "latency-based-routing", "priority-based-routing"]

_SLIDING = {"minute": MINUTE_MS, "hour": HOUR_MS, "day": DAY_MS}
_PERIODS: dict[str, Period] = {
    "cost_per_day": "day",
    "cost_per_week": "week",
    "cost_per_month": "month",
}


@dataclass(frozen=True, slots=True)
class LimitRule:
    """A rate-limit or budget rule: what it counts, over which window, per which bucket."""

    id: str
    config_type: str
    matcher: Matcher
    measure: Measure
    window: Window
    limit: int
    """Requests, tokens, or nano-dollars."""
    applies_per: tuple[str, ...]
    audit_mode: bool = False
    unit: str = ""
    key_prefix: str = field(init=False)
    """Counter keys of this rule start so: type, id and unit (a changed unit starts afresh)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_prefix", f"{self.config_type}:{self.id}:{self.unit}")


@dataclass(frozen=True, slots=True)
class Tolerance:
    """`failure_tolerance`: more than `allowed` failures in a minute cools a target down."""

    allowed_per_minute: int
    cooldown_ms: int
    on_status: frozenset[int]


@dataclass(frozen=True, slots=True)
class Target:
    """One model a rule may send the request to, with how to treat its failures."""

    model: str
    weight: int = 0
    priority: int = 0
    attempts: int = 1
    """Attempts on this target, the first included."""
    retry_delay_ms: float = 0.0
    retry_on: frozenset[int] = frozenset()
    fallback_on: frozenset[int] | None = None
    """Statuses on which the next target is tried; None: any failure."""
    fallback_candidate: bool = True
    overrides: ChatParams | None = None
    """Fields merged over the request sent to this target."""
    tolerance: Tolerance | None = None


@dataclass(frozen=True, slots=True)
class BalanceRule:
    """A load-balancing rule (the first that matches a request wins)."""

    id: str
    strategy: Strategy
    matcher: Matcher
    targets: tuple[Target, ...]
    kind: str = "chat"
    """The model kind of its targets (chat or embedding): it routes only calls of that kind."""


@dataclass(frozen=True, slots=True)
class FallbackRule:
    """A fallback rule (the first that matches wins): targets tried in order after a failure."""

    id: str
    matcher: Matcher
    on_status: frozenset[int]
    """`when.response_status_codes`, else DEFAULT_FALLBACK_ON (never a caller's own 4xx)."""
    targets: tuple[Target, ...]
    kind: str = "chat"


DEFAULT_FALLBACK_ON = frozenset({429, 500, 502, 503, 504})
"""What a fallback rule without `response_status_codes` falls back on (besides connection
failures and timeouts): the provider's own trouble, never a request it refused as invalid."""


@dataclass(frozen=True, slots=True)
class CompiledPolicies:
    """Every policy of one config, indexed by requested model (routing rules also by kind)."""

    limits: RuleIndex[LimitRule] = field(default_factory=lambda: RuleIndex[LimitRule](()))
    balancing: Mapping[str, RuleIndex[BalanceRule]] = field(default_factory=dict)
    fallbacks: Mapping[str, RuleIndex[FallbackRule]] = field(default_factory=dict)
    virtual_models: frozenset[str] = frozenset()
    reserve_prices: Mapping[str, ModelPrice] = field(default_factory=dict)
    """Per requested model, the dearest price it can be routed to (budget reservations)."""


def compile_policies(
    policies: Policies,
    prices: Mapping[str, ModelPrice],
    kinds: Mapping[str, str],
    *,
    source: str = "<config>",
) -> CompiledPolicies:
    """Compiles validated policy documents; `prices` and `kinds` have every model id."""
    limits = [_rate_limit(r) for r in policies.rate_limits]
    limits += [_budget(r) for r in policies.budgets]
    balancing = [_balance_rule(r, kinds, source) for r in policies.load_balancing]
    fallbacks = [_fallback_rule(r, kinds, source) for r in policies.fallbacks]
    return CompiledPolicies(
        limits=RuleIndex(limits),
        balancing=_by_kind(balancing),
        fallbacks=_by_kind(fallbacks),
        virtual_models=policies.virtual_models,
        reserve_prices=_reserve_prices(prices, balancing, fallbacks, policies.virtual_models),
    )


def _by_kind(rules: Sequence[BalanceRule] | Sequence[FallbackRule]) -> dict[str, Any]:
    # A rule routes calls of its targets' kind only: an embedding call never meets a chat
    # rule, even one whose `when` names no model.
    return {
        kind: RuleIndex([r for r in rules if r.kind == kind]) for kind in {r.kind for r in rules}
    }


def matcher_of(when: When) -> Matcher:
    """A `when:` block, compiled; a missing or empty field does not filter."""
    return Matcher(
        subjects=frozenset(when.subjects) if when.subjects else None,
        models=frozenset(when.models) if when.models else None,
        metadata=tuple(sorted((when.metadata or {}).items())),
    )


def _rate_limit(rule: RateLimitRuleConfig) -> LimitRule:
    measure, _, period = rule.unit.partition("_per_")
    return LimitRule(
        id=rule.id,
        config_type=RATE_LIMIT_CONFIG,
        matcher=matcher_of(rule.when),
        measure="requests" if measure == "requests" else "tokens",
        window=SlidingWindow(_SLIDING[period]),
        limit=rule.limit_to,
        applies_per=tuple(rule.rate_limit_applies_per),
        unit=rule.unit,
    )


def _budget(rule: BudgetRuleConfig) -> LimitRule:
    return LimitRule(
        id=rule.id,
        config_type=BUDGET_CONFIG,
        matcher=matcher_of(rule.when),
        measure="cost",
        window=CalendarPeriod(_PERIODS[rule.unit]),
        limit=round(rule.limit_to * NANO_DOLLARS),
        applies_per=tuple(rule.budget_applies_per),
        audit_mode=rule.audit_mode,
        unit=rule.unit,
    )


def _balance_rule(
    rule: LoadBalanceRuleConfig, kinds: Mapping[str, str], source: str
) -> BalanceRule:
    targets = tuple(
        Target(
            model=t.target,
            weight=t.weight or 0,
            priority=t.priority if t.priority is not None else index,
            attempts=t.retry_config.attempts,
            retry_delay_ms=t.retry_config.delay,
            retry_on=frozenset(t.retry_config.on_status_codes),
            fallback_on=frozenset(t.fallback_status_codes),
            fallback_candidate=t.fallback_candidate,
            overrides=_overrides(
                t.override_params,
                f"{LOAD_BALANCING_CONFIG} rule {rule.id}: "
                f"load_balance_targets[{index}].override_params",
                source,
            ),
            tolerance=_tolerance(t.failure_tolerance),
        )
        for index, t in enumerate(rule.load_balance_targets)
    )
    kind = kinds[targets[0].model]
    _refuse_embedding_overrides(kind, targets, f"{LOAD_BALANCING_CONFIG} rule {rule.id}", source)
    return BalanceRule(
        id=rule.id,
        strategy=rule.type,
        matcher=matcher_of(rule.when),
        targets=targets,
        kind=kind,
    )


def _fallback_rule(rule: FallbackRuleConfig, kinds: Mapping[str, str], source: str) -> FallbackRule:
    codes = rule.when.response_status_codes
    targets = tuple(
        Target(
            model=t.target,
            overrides=_overrides(
                t.override_params,
                f"{FALLBACK_CONFIG} rule {rule.id}: fallback_models[{index}].override_params",
                source,
            ),
        )
        for index, t in enumerate(rule.fallback_models)
    )
    kind = kinds[targets[0].model]
    _refuse_embedding_overrides(kind, targets, f"{FALLBACK_CONFIG} rule {rule.id}", source)
    return FallbackRule(
        id=rule.id,
        matcher=matcher_of(rule.when),
        on_status=frozenset(codes) if codes else DEFAULT_FALLBACK_ON,
        targets=targets,
        kind=kind,
    )


def _refuse_embedding_overrides(
    kind: str, targets: Sequence[Target], where: str, source: str
) -> None:
    # Overrides are chat request fields; silently dropping them on embeddings would mislead.
    if kind == "embedding" and any(t.overrides is not None for t in targets):
        raise ConfigError(
            f"{source}: {where}: override_params apply to chat targets only, "
            "not to embedding models"
        )


def _tolerance(tolerance: FailureTolerance | None) -> Tolerance | None:
    if tolerance is None:
        return None
    return Tolerance(
        allowed_per_minute=tolerance.allowed_failures_per_minute,
        cooldown_ms=round(tolerance.cooldown_period_minutes * MINUTE_MS),
        on_status=frozenset(tolerance.failure_status_codes),
    )


_PLACEHOLDER: dict[str, Any] = {"model": "-", "messages": [{"role": "user", "content": "-"}]}


def _overrides(params: Mapping[str, Any], where: str, source: str) -> ChatParams | None:
    # Parsed by the same codec as a request body, so an override means what it means there.
    if not params:
        return None
    try:
        patch = chat_params_from_json({**params, **_PLACEHOLDER})
    except CodecError as exc:
        raise ConfigError(f"{source}: {where}: {exc.message}") from None
    patch.ClearField("model")
    patch.ClearField("messages")
    return patch


def apply_overrides(params: ChatParams, patch: ChatParams) -> ChatParams:
    """A copy of `params` with every field `patch` sets replaced (lists too, not appended)."""
    patched = ChatParams()
    patched.CopyFrom(params)
    for descriptor, _ in patch.ListFields():
        if descriptor.name != "extras":  # extras merge key by key; the rest is replaced
            patched.ClearField(descriptor.name)  # type: ignore[arg-type]  # a field name
    patched.MergeFrom(patch)
    return patched


def _reserve_prices(
    prices: Mapping[str, ModelPrice],
    balancing: Sequence[BalanceRule],
    fallbacks: Sequence[FallbackRule],
    virtual_models: frozenset[str],
) -> dict[str, ModelPrice]:
    reachable: dict[str, set[str]] = {model: {model} for model in prices}
    routes = [(r.matcher, r.targets) for r in balancing] + [
        (r.matcher, r.targets) for r in fallbacks
    ]
    everything = [*prices.keys(), *virtual_models]  # a rule without `models` routes them all
    for matcher, targets in routes:
        for model in matcher.models or everything:
            reachable.setdefault(model, set()).update(t.model for t in targets)
    return {
        model: _dearest(prices[m] for m in ids if m in prices) for model, ids in reachable.items()
    }


def _dearest(candidates: Iterable[ModelPrice]) -> ModelPrice:
    best = ModelPrice()
    for price in candidates:
        best = ModelPrice(
            input_per_million=max(best.input_per_million, price.input_per_million),
            output_per_million=max(best.output_per_million, price.output_per_million),
        )
    return best
