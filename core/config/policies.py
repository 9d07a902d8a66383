"""The routing-policy documents: rate limits, budgets, load balancing and fallbacks.

Field names are TrueFoundry AI gateway's, which our users already write. Each document
validates on its own here; `build_policies` then checks what needs the other documents
(known models, virtual models, rule ids) and gathers the rules into `Policies`.

A *virtual model* is a name in a load-balancing rule's `when.models` that no provider
account serves: callers ask for it and the rule picks among its targets. Rate-limit,
budget and fallback rules may name it in their `when.models` like any served model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NoReturn

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from core.config.models import FieldError, ModelKind, _Strict
from core.errors import InvalidRequest
from core.metadata import check_key, field_key

# The defaults TrueFoundry documents for a target.
DEFAULT_FALLBACK_STATUS_CODES = (401, 403, 404, 429, 500, 502, 503)
DEFAULT_RETRY_STATUS_CODES = (429, 500, 502, 503)
REFUSED_OVERRIDE_KEYS = ("model", "messages", "stream", "input")
"""Request fields override_params may not set: they change what is asked, not how."""
APPLIES_PER_KINDS = ("user", "virtualaccount", "model")
"""What a limit may be counted per, besides `metadata.<key>`."""

_SUBJECT = re.compile(r"^(user|team|virtualaccount):\S+$")


def _status_code(value: object) -> int:
    # TrueFoundry's examples quote status codes ('429'); YAML also reads them bare.
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise FieldError(f"status code {value!r} must be an integer from 100 to 599")
    return value


StatusCode = Annotated[int, BeforeValidator(_status_code)]


def _non_blank(text: str) -> str:
    if not text.strip():
        raise FieldError("must not be empty")
    return text


def _model_name(name: str) -> str:
    if not name or any(c.isspace() for c in name):
        raise FieldError(f"model name {name!r} must be non-empty, without whitespace")
    return name


def _subject(subject: str) -> str:
    if not _SUBJECT.match(subject):
        raise FieldError(
            f"subject {subject!r} must be `user:<email>`, `team:<name>` or `virtualaccount:<name>`"
        )
    return subject


def _metadata_key(key: str) -> str:
    try:
        return check_key(key, param="metadata")
    except InvalidRequest as exc:  # one key rule for headers, filters and config alike
        raise FieldError(exc.message) from None


def _as_yaml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, str) else value


def _applies_per(kinds: list[str]) -> list[str]:
    for index, kind in enumerate(kinds):
        key = field_key(kind)
        if key is not None:
            try:
                _metadata_key(key)
            except FieldError as exc:
                raise FieldError(exc.reason, index) from None
        elif kind not in APPLIES_PER_KINDS:
            raise FieldError(
                f"{kind!r} is not one of `user`, `virtualaccount`, `model`, `metadata.<key>`",
                index,
            )
        if kind in kinds[:index]:
            raise FieldError(f"{kind!r} appears twice: name each once", index)
    return kinds


def _override_params(params: dict[str, Any]) -> dict[str, Any]:
    for key in params:
        if key in REFUSED_OVERRIDE_KEYS:
            raise FieldError(
                f"override_params may not set `{key}`: they change how a target is asked, "
                "not what (`model`, `messages`, `stream` and `input` are refused)",
                key,
            )
    return params


RuleId = Annotated[str, AfterValidator(_non_blank)]
ModelName = Annotated[str, AfterValidator(_model_name)]
Subject = Annotated[str, AfterValidator(_subject)]
AppliesPer = Annotated[list[str], BeforeValidator(_one_or_many), AfterValidator(_applies_per)]
"""`user`, `virtualaccount`, `model` or `metadata.<key>`: one counter per value; a single
string is a list of one."""
OverrideParams = Annotated[dict[str, Any], AfterValidator(_override_params)]
"""OpenAI chat request body fields merged into the body sent to one target."""


class When(_Strict):
    """Which requests a rule applies to; the fields are ANDed and an empty one does not filter."""

    subjects: list[Subject] = Field(default_factory=list)
    models: list[ModelName] = Field(default_factory=list)
    """`account/model` ids or virtual model names."""
    metadata: dict[str, str] = Field(default_factory=dict)
    """Each must equal the request's `X-TFY-METADATA` value of that key."""

    @field_validator("metadata", mode="before")
    @classmethod
    def _string_values(cls, value: object) -> object:
        # YAML reads `tier: 1` or `beta: true` as a number or a bool; say how to fix it.
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(item, str):
                    raise FieldError(
                        f"metadata values are strings: quote it ({key}: '{_as_yaml(item)}')",
                        key,
                    )
        return value

    @field_validator("metadata")
    @classmethod
    def _keys(cls, metadata: dict[str, str]) -> dict[str, str]:
        for key in metadata:
            try:
                _metadata_key(key)
            except FieldError as exc:
                raise FieldError(exc.reason, key) from None
        return metadata


class FallbackWhen(When):
    """A fallback rule's `when`, which also names the failures that move down the chain."""

    response_status_codes: list[StatusCode] = Field(default_factory=list)


RateLimitUnit = Literal[
    "requests_per_minute", "requests_per_hour", "requests_per_day",
    "tokens_per_minute", "tokens_per_hour", "tokens_per_day",
]  # fmt: skip


class RateLimitRule(_Strict):
    """Every matching rule counts the request and any one of them blocks it (HTTP 429)."""

    id: RuleId
    when: When = When()
    limit_to: int = Field(ge=0)
    unit: RateLimitUnit
    rate_limit_applies_per: AppliesPer = Field(default_factory=list)


class BudgetRule(_Strict):
    """Spend in US dollars per period; every matching rule is charged."""

    id: RuleId
    when: When = When()
    limit_to: float = Field(ge=0, allow_inf_nan=False)
    """US dollars per `unit`."""
    unit: Literal["cost_per_day", "cost_per_week", "cost_per_month"]
    budget_applies_per: AppliesPer = Field(default_factory=list)
    audit_mode: bool = False
    """Count and report overspend, but never block."""


class RetryConfig(_Strict):
    """Retries on one target, before falling back to another."""

    attempts: int = Field(default=2, ge=1)
    """Attempts on this target including the first: 1 is no retry."""
    delay: float = Field(default=100, ge=0, allow_inf_nan=False)
    """Milliseconds before a retry: the base of a jittered backoff."""
    on_status_codes: list[StatusCode] = Field(default=list(DEFAULT_RETRY_STATUS_CODES))


class FailureTolerance(_Strict):
    """Take a target out of rotation for a while when it fails too often."""

    allowed_failures_per_minute: int = Field(ge=0)
    cooldown_period_minutes: float = Field(gt=0, allow_inf_nan=False)
    failure_status_codes: list[StatusCode] = Field(default=list(DEFAULT_RETRY_STATUS_CODES))


class LoadBalanceTarget(_Strict):
    """One model a load-balancing rule may send a request to."""

    target: ModelName
    """An `account/model` id."""
    weight: int | None = Field(default=None, ge=0, le=100)
    """Share of the requests in percent (weight-based routing)."""
    priority: int | None = Field(default=None, ge=0)
    """Lower is tried first (priority-based routing)."""
    retry_config: RetryConfig = RetryConfig()
    fallback_status_codes: list[StatusCode] = Field(default=list(DEFAULT_FALLBACK_STATUS_CODES))
    """Failures after which the next target is tried."""
    fallback_candidate: bool = True
    """Whether this target may be tried when another one failed."""
    override_params: OverrideParams = Field(default_factory=dict)
    failure_tolerance: FailureTolerance | None = None


RoutingType = Literal["weight-based-routing", "latency-based-routing", "priority-based-routing"]


class LoadBalanceRule(_Strict):
    """The first matching rule picks the order its targets are tried in."""

    id: RuleId
    type: RoutingType
    when: When
    load_balance_targets: list[LoadBalanceTarget] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_targets(self) -> LoadBalanceRule:
        targets = self.load_balance_targets
        _check_once([t.target for t in targets], "load_balance_targets")
        # Latency-based routing needs neither; a weight or priority there is ignored.
        if self.type == "weight-based-routing":
            _require(self.type, [t.weight for t in targets], "weight")
            _refuse_field(self.type, [t.priority for t in targets], "priority", "weight")
            total = sum(t.weight or 0 for t in targets)
            if total != 100:
                raise FieldError(
                    f"weights sum to {total}: weight-based routing needs them to sum to 100",
                    "load_balance_targets",
                )
        elif self.type == "priority-based-routing":
            _require(self.type, [t.priority for t in targets], "priority")
            _refuse_field(self.type, [t.weight for t in targets], "weight", "priority")
        return self


def _require(routing: str, values: list[int | None], field: str) -> None:
    for index, value in enumerate(values):
        if value is None:
            raise FieldError(
                f"{routing} needs a {field} on every target", "load_balance_targets", index, field
            )


def _refuse_field(routing: str, values: list[int | None], field: str, instead: str) -> None:
    for index, value in enumerate(values):
        if value is not None:
            raise FieldError(
                f"{routing} takes no {field} (it uses {instead})",
                "load_balance_targets",
                index,
                field,
            )


def _check_once(targets: list[str], field: str) -> None:
    for index, target in enumerate(targets):
        if target in targets[:index]:
            raise FieldError(
                f"target {target!r} appears twice in this rule: name each target once",
                field,
                index,
                "target",
            )


class FallbackTarget(_Strict):
    """One step of a fallback chain."""

    target: ModelName
    """An `account/model` id."""
    override_params: OverrideParams = Field(default_factory=dict)


class FallbackRule(_Strict):
    """The first matching rule's chain is tried in order after the model asked for fails."""

    id: RuleId
    when: FallbackWhen
    fallback_models: list[FallbackTarget] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_targets(self) -> FallbackRule:
        # A model twice in one chain would only retry what just failed.
        _check_once([t.target for t in self.fallback_models], "fallback_models")
        return self


class RateLimitConfig(_Strict):
    type: Literal["gateway-rate-limiting-config"]
    name: str
    rules: list[RateLimitRule]


class BudgetConfig(_Strict):
    type: Literal["gateway-budget-config"]
    name: str
    rules: list[BudgetRule]


class LoadBalancingConfig(_Strict):
    type: Literal["gateway-load-balancing-config"]
    name: str
    rules: list[LoadBalanceRule]


class FallbackConfig(_Strict):
    type: Literal["gateway-fallback-config"]
    name: str
    rules: list[FallbackRule]


PolicyRule = RateLimitRule | BudgetRule | LoadBalanceRule | FallbackRule
PolicyDocument = RateLimitConfig | BudgetConfig | LoadBalancingConfig | FallbackConfig
POLICY_DOCUMENTS = (RateLimitConfig, BudgetConfig, LoadBalancingConfig, FallbackConfig)
POLICY_DOCUMENT_TYPES = (
    "gateway-rate-limiting-config",
    "gateway-budget-config",
    "gateway-load-balancing-config",
    "gateway-fallback-config",
)


@dataclass(frozen=True, slots=True)
class Policies:
    """Every policy rule of the config, in file order (documents of one type concatenated)."""

    rate_limits: tuple[RateLimitRule, ...] = ()
    budgets: tuple[BudgetRule, ...] = ()
    load_balancing: tuple[LoadBalanceRule, ...] = ()
    fallbacks: tuple[FallbackRule, ...] = ()
    virtual_models: frozenset[str] = frozenset()
    """Names in load-balancing rules' `when.models` that no provider account serves."""


class PolicyIssue(Exception):
    """A rule at odds with the rest of the config, at `loc` in document `number`."""

    def __init__(self, number: int, name: str, loc: tuple[str | int, ...], reason: str) -> None:
        super().__init__(reason)
        self.number = number
        self.name = name
        self.loc = loc
        self.reason = reason


_UNKNOWN_TARGET = "use an account/model id from a provider-account document"


def build_policies(
    documents: Sequence[tuple[int, PolicyDocument]], models: Mapping[str, ModelKind]
) -> Policies:
    """The rules of `(document number, document)` pairs, checked against each other and
    `models` (every `account/model` id with its kind); PolicyIssue names the first fault."""
    virtual = _virtual_models(documents, models)
    known: Mapping[str, ModelKind] = {**models, **virtual}
    first_ids: dict[tuple[str, str], int] = {}
    for number, document in documents:
        rules: Sequence[PolicyRule] = document.rules
        for index, rule in enumerate(rules):
            fault = _Fault(number, document.name, ("rules", index))
            if (document.type, rule.id) in first_ids:
                fault.at(
                    f"duplicate rule id {rule.id!r}: ids are unique across {document.type} "
                    f"documents (first in document {first_ids[document.type, rule.id]})",
                    "id",
                )
            first_ids[document.type, rule.id] = number
            if isinstance(rule, FallbackRule):
                targets = [t.target for t in rule.fallback_models]
                kind = _targets_kind(fault, targets, "fallback_models", models)
                _check_when_models(fault, rule.when.models, known, kind)
            elif not isinstance(rule, LoadBalanceRule):  # checked with the virtual models
                _check_when_models(fault, rule.when.models, known, None)
    docs = [document for _, document in documents]
    return Policies(
        rate_limits=tuple(r for d in docs if isinstance(d, RateLimitConfig) for r in d.rules),
        budgets=tuple(r for d in docs if isinstance(d, BudgetConfig) for r in d.rules),
        load_balancing=tuple(
            r for d in docs if isinstance(d, LoadBalancingConfig) for r in d.rules
        ),
        fallbacks=tuple(r for d in docs if isinstance(d, FallbackConfig) for r in d.rules),
        virtual_models=frozenset(virtual),
    )


def _virtual_models(
    documents: Sequence[tuple[int, PolicyDocument]], models: Mapping[str, ModelKind]
) -> dict[str, ModelKind]:
    # The kind of a virtual model is the kind of the targets its rules lead to.
    virtual: dict[str, ModelKind] = {}
    first_rule: dict[str, str] = {}
    for number, document in documents:
        if not isinstance(document, LoadBalancingConfig):
            continue
        for index, rule in enumerate(document.rules):
            fault = _Fault(number, document.name, ("rules", index))
            targets = [t.target for t in rule.load_balance_targets]
            kind = _targets_kind(fault, targets, "load_balance_targets", models)
            for position, name in enumerate(rule.when.models):
                if name in models:
                    continue
                if virtual.setdefault(name, kind) != kind:
                    fault.at(
                        f"virtual model {name!r} leads to {kind} models here but to "
                        f"{virtual[name]} models in rule {first_rule[name]!r}",
                        "when",
                        "models",
                        position,
                    )
                first_rule.setdefault(name, rule.id)
            _check_when_models(fault, rule.when.models, {**models, **virtual}, kind)
    return virtual


def _targets_kind(
    fault: _Fault, targets: list[str], field: str, models: Mapping[str, ModelKind]
) -> ModelKind:
    kinds: list[ModelKind] = []
    for index, target in enumerate(targets):
        kind = models.get(target)
        if kind is None:
            fault.at(f"unknown model {target!r}: {_UNKNOWN_TARGET}", field, index, "target")
        if kinds and kind != kinds[0]:
            fault.at(
                f"{target!r} is {_a(kind)} model but {targets[0]!r} is {_a(kinds[0])} "
                "model: the targets of one rule are of one kind",
                field,
                index,
                "target",
            )
        kinds.append(kind)
    return kinds[0]


def _check_when_models(
    fault: _Fault, names: list[str], known: Mapping[str, ModelKind], kind: ModelKind | None
) -> None:
    for index, name in enumerate(names):
        found = known.get(name)
        if found is None:
            fault.at(
                f"unknown model {name!r}: {_UNKNOWN_TARGET} or a virtual model named in "
                "a load-balancing rule's when.models",
                "when",
                "models",
                index,
            )
        if kind is not None and found != kind:
            fault.at(
                f"{name!r} is {_a(found)} model but this rule's targets are {kind} models",
                "when",
                "models",
                index,
            )


@dataclass(frozen=True, slots=True)
class _Fault:
    """Where a rule is, to raise a PolicyIssue below it."""

    number: int
    name: str
    loc: tuple[str | int, ...]

    def at(self, reason: str, *path: str | int) -> NoReturn:
        raise PolicyIssue(self.number, self.name, (*self.loc, *path), reason)


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
