"""The one policy pipeline between the servicers and the providers, for chat and embeddings.

    admit (rate limits, budgets) -> plan (load balancing) -> attempts (retries, fallbacks,
    cooldowns; the first event commits the answer) -> provider -> settle (actual usage)

Every call reads the config snapshot once. Each attempt is reported to the call's trace
(`attempt` / `attempt_done`, with the tokens and cost it used), so the log record holds the
whole chain and an attempt the provider billed is metered even when it failed.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import orjson

from core.access import ensure_model_allowed
from core.config.models import ModelPrice
from core.errors import (
    GatewayError,
    InvalidRequest,
    ModelNotFound,
    UpstreamStreamCut,
    UpstreamTimeout,
)
from core.models import ModelRoute
from core.providers.base import ChatCall, ChatEvent
from core.recording import CallContext, CallTrace
from core.router.attempts import AttemptChain, Step, failure_status, retry_after_ms
from core.router.balancing import plan_targets
from core.router.health import TargetHealth
from core.router.limits import (
    NO_ESTIMATE,
    Estimate,
    Limits,
    Reservation,
    cost_nanos,
    estimate_chat,
    estimate_texts,
    estimated_input_tokens,
)
from core.router.policies import (
    FALLBACK_CONFIG,
    LOAD_BALANCING_CONFIG,
    NANO_DOLLARS,
    BalanceRule,
    LimitRule,
    Target,
    apply_overrides,
)
from core.router.snapshot import Snapshot, SnapshotSource
from gateway.v1.chat_pb2 import ROLE_UNSPECIFIED, ChatParams, ChatResult
from gateway.v1.route_service_pb2 import EmbedRequest, EmbedResponse

Headers = tuple[tuple[str, str], ...]


class RouterEvents(Protocol):
    """What the router counts (core.metrics.RouterMetrics: Prometheus counters by rule)."""

    def retried(self, rule_id: str) -> None: ...
    def fell_back(self, rule_id: str) -> None: ...
    def cooled_down(self, rule_id: str, target: str) -> None: ...


class _Uncounted:
    def retried(self, rule_id: str) -> None: ...
    def fell_back(self, rule_id: str) -> None: ...
    def cooled_down(self, rule_id: str, target: str) -> None: ...


@dataclass(slots=True)
class _Applied:
    """Rules applied to one call (`x-tfy-applied-configurations`); rendered only once."""

    limits: Sequence[LimitRule] = ()
    balancing: str = ""
    fallback: str = ""

    def __bool__(self) -> bool:
        return bool(self.limits or self.balancing or self.fallback)

    def header(self) -> str:
        """JSON: rule ids by config type."""
        ids: dict[str, list[str]] = {}
        for rule in self.limits:
            ids.setdefault(rule.config_type, []).append(rule.id)
        if self.balancing:
            ids[LOAD_BALANCING_CONFIG] = [self.balancing]
        if self.fallback:
            ids[FALLBACK_CONFIG] = [self.fallback]
        return orjson.dumps(ids).decode()


class ChatRun:
    """A started chat call: its events, and what to tell the caller once it commits."""

    __slots__ = ("_applied", "_limit_headers", "completion_id", "events", "resolved_model")

    def __init__(self, completion_id: str, applied: _Applied, limit_headers: Headers) -> None:
        self.completion_id = completion_id
        self.resolved_model = ""
        self.events: AsyncIterator[ChatEvent]
        self._applied = applied
        self._limit_headers = limit_headers

    def fell_back(self, rule_id: str) -> None:
        """Notes the fallback rule whose target answered."""
        self._applied.fallback = rule_id

    def headers(self) -> Headers:
        """Response headers: the model that answered, the rules applied, rate-limit state."""
        headers: Headers = (("x-tfy-resolved-model", self.resolved_model),)
        if self._applied:
            headers += (("x-tfy-applied-configurations", self._applied.header()),)
        return headers + self._limit_headers


@dataclass(frozen=True, slots=True)
class _Admitted:
    """A call past admission: its load-balancing rule (if any), rules applied, reservation."""

    model: str
    rule: BalanceRule | None
    applied: _Applied
    reservation: Reservation


@dataclass(frozen=True, slots=True)
class EmbedOutcome:
    response: EmbedResponse
    headers: Headers


class Router:
    """Runs calls against the current snapshot's providers under its policies."""

    def __init__(
        self,
        source: SnapshotSource,
        limits: Limits,
        *,
        events: RouterEvents | None = None,
        rng: random.Random | None = None,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._source = source
        self._limits = limits
        self._events: RouterEvents = events or _Uncounted()
        self._rng = rng or random.Random()
        self._sleep = sleep
        self.health = TargetHealth(now_ms)

    @property
    def limits(self) -> Limits:
        return self._limits

    async def start_chat(
        self,
        params: ChatParams,
        call: CallContext,
        trace: CallTrace,
        *,
        stream: bool,
        deadline: float | None = None,
    ) -> ChatRun:
        """Admits and plans a chat call; the provider is called when `run.events` is iterated.

        Raises before any attempt when the request is invalid, the model unknown or not
        allowed, or a limit blocks it.
        """
        snapshot = self._source.current
        validate_params(params)
        admitted = await self._admit(
            snapshot, params.model, "chat", call, lambda price: estimate_chat(params, price)
        )
        run = ChatRun(f"chatcmpl-{call.request_id}", admitted.applied, admitted.reservation.headers)
        try:
            chain = self._chain(snapshot, admitted, call, deadline)
        except BaseException:
            self._limits.settle(admitted.reservation, tokens=0, cost_nanos=0)
            raise
        run.events = self._chat_events(snapshot, params, run, chain, admitted, trace, stream=stream)
        return run

    async def embed(
        self,
        request: EmbedRequest,
        call: CallContext,
        trace: CallTrace,
        *,
        deadline: float | None = None,
    ) -> EmbedOutcome:
        """Runs an embedding call through the same admit -> plan -> attempts -> settle."""
        snapshot = self._source.current
        admitted = await self._admit(
            snapshot,
            request.model,
            "embedding",
            call,
            lambda price: estimate_texts(request.inputs, price),
        )
        rule, applied, reservation = admitted.rule, admitted.applied, admitted.reservation
        used = _Usage()
        try:
            chain = self._chain(snapshot, admitted, call, deadline)
            step: Step | None = chain.first()
            while step is not None:
                if step.wait_seconds:
                    await self._sleep(step.wait_seconds)
                target = step.target
                route = _resolve(snapshot, target.model, "embedding")
                trace.attempt(route.id, route.account.name)
                try:
                    response = await route.provider.embed(request, route.model.name)
                except GatewayError as error:
                    trace.attempt_done(failure_status(error), error.reason, 0, 0, 0.0)
                    step = self._next(chain, step, rule, error)
                    if step is None:
                        raise
                    continue
                except BaseException:
                    trace.attempt_done(499, "cancelled", 0, 0, 0.0)
                    raise
                response.model = route.id
                usage = response.usage
                cost = used.add(snapshot, route.id, "embedding", usage.input_tokens, 0)
                trace.attempt_done(200, "", usage.input_tokens, 0, cost)
                trace.embedded(response)
                headers: Headers = (("x-tfy-resolved-model", route.id),)
                if applied:
                    headers += (("x-tfy-applied-configurations", applied.header()),)
                return EmbedOutcome(response, headers + reservation.headers)
            raise AssertionError("unreachable: a chain always has a first step")
        finally:
            self._limits.settle(reservation, tokens=used.tokens, cost_nanos=used.cost_nanos)

    # --- the attempt loop of a chat call
    async def _chat_events(
        self,
        snapshot: Snapshot,
        params: ChatParams,
        run: ChatRun,
        chain: AttemptChain,
        admitted: _Admitted,
        trace: CallTrace,
        *,
        stream: bool,
    ) -> AsyncIterator[ChatEvent]:
        rule, reservation = admitted.rule, admitted.reservation
        used = _Usage()
        try:
            step: Step | None = chain.first()
            while step is not None:
                if step.wait_seconds:
                    await self._sleep(step.wait_seconds)
                target = step.target
                route = _resolve(snapshot, target.model, "chat")
                sent = apply_overrides(params, target.overrides) if target.overrides else params
                events = route.provider.chat(
                    ChatCall(
                        params=sent,
                        account=route.account.name,
                        model=route.model.name,
                        stream=stream,
                    )
                )
                trace.attempt(route.id, route.account.name)
                rule_id = rule.id if rule is not None else ""
                if rule is not None:  # only load-balanced targets are tracked
                    self.health.started(rule_id, route.id)
                started = time.perf_counter()
                deltas = 0
                try:
                    try:
                        # The first event commits the answer: before it, a failure may move on.
                        event = await anext(events)
                    except GatewayError as error:
                        await _aclose(events)
                        billed = _billed_input(error, params)
                        cost = used.add(snapshot, route.id, "chat", billed, 0)
                        trace.attempt_done(failure_status(error), error.reason, billed, 0, cost)
                        if rule is not None:
                            self._note_failure(rule, route.id, target, error)
                        step = self._next(chain, step, rule, error)
                        if step is None:
                            raise
                        continue
                    except StopAsyncIteration:
                        raise UpstreamStreamCut(
                            f"{route.id}: provider returned no answer"
                        ) from None
                    run.resolved_model = route.id
                    if step.fallback_rule is not None:
                        run.fell_back(step.fallback_rule.id)
                    while True:
                        if isinstance(event, ChatResult):
                            _stamp(event, run.completion_id, route.id)
                            usage = event.usage
                            cost = used.add(
                                snapshot, route.id, "chat", usage.input_tokens, usage.output_tokens
                            )
                            trace.attempt_done(
                                200, "", usage.input_tokens, usage.output_tokens, cost
                            )
                            if rule is not None:
                                self.health.observed(
                                    rule_id,
                                    route.id,
                                    (time.perf_counter() - started) * 1000,
                                    usage.output_tokens,
                                )
                            yield event
                            return
                        deltas += 1
                        yield event
                        event = await anext(events)
                except GatewayError as error:
                    # After the commit point: the caller already has part of the answer.
                    if run.resolved_model == route.id:
                        billed = _billed_input(error, params)
                        cost = used.add(snapshot, route.id, "chat", billed, deltas)
                        trace.attempt_done(
                            failure_status(error), error.reason, billed, deltas, cost
                        )
                    raise
                except StopAsyncIteration:
                    raise UpstreamStreamCut(f"{route.id}: stream ended without a result") from None
                except BaseException:
                    # Cancelled: the provider saw the request, and bills it.
                    billed = estimated_input_tokens(params)
                    cost = used.add(snapshot, route.id, "chat", billed, deltas)
                    trace.attempt_done(499, "cancelled", billed, deltas, cost)
                    raise
                finally:
                    if rule is not None:
                        self.health.ended(rule_id, route.id)
                    await _aclose(events)
        finally:
            self._limits.settle(reservation, tokens=used.tokens, cost_nanos=used.cost_nanos)

    async def _admit(
        self,
        snapshot: Snapshot,
        model: str,
        kind: str,
        call: CallContext,
        estimate: Callable[[ModelPrice | None], Estimate],
    ) -> _Admitted:
        # Checked before anything is charged: a call that cannot run costs no quota.
        principal, metadata = call.principal, call.metadata
        ensure_model_allowed(principal, model)
        policies = snapshot.policies
        rule = policies.balancing.first(model, principal, metadata) if policies.balancing else None
        if rule is None:
            _resolve(snapshot, model, kind)
        limits = policies.limits.matching(model, principal, metadata) if policies.limits else []
        reservation = await self._limits.admit(
            limits,
            model=model,
            principal=principal,
            metadata=metadata,
            estimate=estimate(policies.reserve_prices.get(model)) if limits else NO_ESTIMATE,
        )
        return _Admitted(model, rule, _Applied(limits), reservation)

    def _chain(
        self, snapshot: Snapshot, admitted: _Admitted, call: CallContext, deadline: float | None
    ) -> AttemptChain:
        rule = admitted.rule
        model = admitted.model
        if rule is not None:
            plan = plan_targets(rule, self.health, self._rng)
            admitted.applied.balancing = rule.id
        else:
            plan = [Target(model)]
        fallbacks = snapshot.policies.fallbacks
        fallback = fallbacks.first(model, call.principal, call.metadata) if fallbacks else None
        return AttemptChain(plan, fallback, deadline=deadline, rng=self._rng)

    def _next(
        self, chain: AttemptChain, step: Step, rule: BalanceRule | None, error: GatewayError
    ) -> Step | None:
        before = (chain.retries, chain.fallbacks)
        following = chain.after(step, error)
        if following is not None:
            rule_id = (
                following.fallback_rule.id if following.fallback_rule else (rule.id if rule else "")
            )
            if chain.retries > before[0]:
                self._events.retried(rule_id)
            elif chain.fallbacks > before[1]:
                self._events.fell_back(rule_id)
        return following

    def _note_failure(
        self, rule: BalanceRule, model: str, target: Target, error: GatewayError
    ) -> None:
        if self.health.failed(
            rule.id, model, failure_status(error), target.tolerance, retry_after_ms(error)
        ):
            self._events.cooled_down(rule.id, model)


@dataclass(slots=True)
class _Usage:
    """Tokens and cost of every attempt of one call, as limits and budgets are settled."""

    tokens: int = 0
    cost_nanos: int = 0

    def add(
        self, snapshot: Snapshot, model: str, kind: str, input_tokens: int, output_tokens: int
    ) -> float:
        """Adds an attempt's usage; returns its cost in dollars."""
        nanos = cost_nanos(snapshot.prices.price(model, kind), input_tokens, output_tokens)
        self.tokens += input_tokens + output_tokens
        self.cost_nanos += nanos
        return nanos / NANO_DOLLARS


def _billed_input(error: GatewayError, params: ChatParams) -> int:
    # A provider bills a request it was processing when we gave up (timeout, cut stream);
    # one it refused or never received costs nothing.
    if isinstance(error, (UpstreamTimeout, UpstreamStreamCut)):
        return estimated_input_tokens(params)
    return 0


def _resolve(snapshot: Snapshot, model: str, kind: str) -> ModelRoute:
    if model in snapshot.policies.virtual_models:
        raise ModelNotFound(
            f"model {model!r} is routed by load-balancing rules, none of which matches this "
            "request",
            param="model",
        )
    return snapshot.models.resolve(model, kind=kind)


def _stamp(result: ChatResult, completion_id: str, model: str) -> None:
    # The gateway's id and the `account/model` name, not the provider's, identify the answer.
    result.id = completion_id
    result.model = model
    if not result.HasField("create_time"):
        result.create_time.FromSeconds(int(time.time()))


async def _aclose(events: AsyncIterator[ChatEvent]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


def validate_params(params: ChatParams) -> None:
    """Checks what a gRPC caller can get wrong that the facade's codec already rejects."""
    if not params.model:
        raise InvalidRequest("`model` is required", param="model")
    if not params.messages:
        raise InvalidRequest("`messages` must be a non-empty list", param="messages")
    for index, message in enumerate(params.messages):
        if message.role == ROLE_UNSPECIFIED:
            raise InvalidRequest(
                f"messages[{index}].role is required", param=f"messages[{index}].role"
            )
