"""The one policy pipeline between the servicers and the providers, for chat and embeddings.

    admit (rate limits, budgets) -> plan (load balancing) -> attempts (retries, fallbacks,
    cooldowns; the first event commits the answer) -> provider -> settle (actual usage)

Every call reads the config snapshot once and holds it to the end (a reload closes what it
replaced only after the last such call). Each attempt is reported to the call's trace
(`attempt` / `attempt_done`, with the tokens and cost it used), so the log record holds the
whole chain, and an attempt the provider billed is metered even when it failed.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

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
from core.pricing import NANO_DOLLARS
from core.providers.base import ChatCall, ChatEvent
from core.recording import CallContext, CallTrace
from core.router.attempts import AttemptChain, Step, failure_status, retry_after_ms
from core.router.balancing import plan_targets
from core.router.health import TargetHealth
from core.router.limits import (
    NO_RESERVATION,
    Estimate,
    Limits,
    Reservation,
    estimate_chat,
    estimate_texts,
    estimated_input_tokens,
)
from core.router.policies import (
    FALLBACK_CONFIG,
    LOAD_BALANCING_CONFIG,
    BalanceRule,
    LimitRule,
    Target,
    apply_overrides,
)
from core.router.snapshot import Snapshot, SnapshotSource
from gateway.v1.chat_pb2 import ROLE_UNSPECIFIED, ChatParams, ChatResult
from gateway.v1.route_service_pb2 import EmbedRequest, EmbedResponse

Headers = tuple[tuple[str, str], ...]
CANCELLED_STATUS = 499


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
        """JSON: rule ids by config type, ASCII-escaped (gRPC metadata is ASCII)."""
        ids: dict[str, list[str]] = {}
        for rule in self.limits:
            ids.setdefault(rule.config_type, []).append(rule.id)
        if self.balancing:
            ids[LOAD_BALANCING_CONFIG] = [self.balancing]
        if self.fallback:
            ids[FALLBACK_CONFIG] = [self.fallback]
        return json.dumps(ids, separators=(",", ":"))


def _headers(resolved_model: str, applied: _Applied, reservation: Reservation) -> Headers:
    headers: Headers = (("x-tfy-resolved-model", resolved_model),)
    if applied:
        headers += (("x-tfy-applied-configurations", applied.header()),)
    return headers + reservation.headers


class ChatRun:
    """A started chat call: its events, and what to tell the caller once it commits.

    Iterate `events`, then `aclose()` (always: it also settles a call whose events were
    never iterated)."""

    __slots__ = ("_call", "completion_id", "events", "resolved_model")

    def __init__(self, completion_id: str, call: _Call) -> None:
        self.completion_id = completion_id
        self.resolved_model = ""
        self.events: AsyncIterator[ChatEvent]
        self._call = call

    def headers(self) -> Headers:
        """Response headers: the model that answered, the rules applied, rate-limit state."""
        return _headers(self.resolved_model, self._call.applied, self._call.reservation)

    async def aclose(self) -> None:
        """Ends the call: closes the provider's stream, settles limits, releases the config."""
        try:
            await _aclose(self.events)
        finally:
            self._call.settle()


@dataclass(frozen=True, slots=True)
class EmbedOutcome:
    response: EmbedResponse
    headers: Headers


@dataclass(slots=True)
class _Call:
    """One admitted call: what it read, what it spent, and the bookkeeping of its attempts."""

    router: Router
    snapshot: Snapshot
    kind: str
    model: str
    trace: CallTrace
    rule: BalanceRule | None
    applied: _Applied
    reservation: Reservation
    billable_input: Callable[[], int]
    """Input tokens a provider bills for an attempt it was processing when it failed (only
    estimated when one does)."""
    tokens: int = 0
    cost_nanos: int = 0
    started: float = 0.0
    settled: bool = False

    def begin(self, route: ModelRoute) -> None:
        self.trace.attempt(route.id, route.account.name)
        self.started = time.perf_counter()
        if self.rule is not None:  # only load-balanced targets are tracked
            self.router.health.started(self.rule.id, route.id)

    def answered(self, route: ModelRoute, input_tokens: int, output_tokens: int) -> None:
        cost = self._spend(route.id, input_tokens, output_tokens)
        self.trace.attempt_done(200, "", input_tokens, output_tokens, cost)
        rule = self._ended(route)
        if rule is not None:
            elapsed_ms = (time.perf_counter() - self.started) * 1000
            self.router.health.observed(rule.id, route.id, elapsed_ms, output_tokens)

    def failed(
        self, route: ModelRoute, target: Target, error: GatewayError, output_tokens: int
    ) -> None:
        """The attempt failed with `error` after sending `output_tokens` (deltas)."""
        # A provider bills what it was processing when we gave up (timeout, cut stream); a
        # request it refused, or never received, costs nothing.
        billed = isinstance(error, (UpstreamTimeout, UpstreamStreamCut))
        input_tokens = self.billable_input() if billed else 0
        cost = self._spend(route.id, input_tokens, output_tokens)
        status = failure_status(error)
        self.trace.attempt_done(status, error.reason, input_tokens, output_tokens, cost)
        rule = self._ended(route)
        if rule is not None and self.router.health.failed(
            rule.id, route.id, status, target.tolerance, retry_after_ms(error)
        ):
            self.router.events.cooled_down(rule.id, route.id)

    def cancelled(self, route: ModelRoute, output_tokens: int) -> None:
        """The caller went away during the attempt: the provider bills what it processed."""
        input_tokens = self.billable_input()
        cost = self._spend(route.id, input_tokens, output_tokens)
        self.trace.attempt_done(CANCELLED_STATUS, "cancelled", input_tokens, output_tokens, cost)
        self._ended(route)

    def broke(self, route: ModelRoute) -> None:
        """The attempt raised something that is not a gateway error (a bug): not billed."""
        self.trace.attempt_done(500, "internal", 0, 0, 0.0)
        self._ended(route)

    def settle(self) -> None:
        """Charges what the call used to its limits and budgets; releases its snapshot."""
        if self.settled:
            return
        self.settled = True
        try:
            self.router.limits.settle(
                self.reservation, tokens=self.tokens, cost_nanos=self.cost_nanos
            )
        finally:
            self.snapshot.calls.leave()

    def _ended(self, route: ModelRoute) -> BalanceRule | None:
        # Only load-balanced targets are tracked (calls in flight, latency, cooldowns).
        rule = self.rule
        if rule is not None:
            self.router.health.ended(rule.id, route.id)
        return rule

    def _spend(self, model: str, input_tokens: int, output_tokens: int) -> float:
        nanos = self.snapshot.prices.cost_nanos(model, self.kind, input_tokens, output_tokens)
        self.tokens += input_tokens + output_tokens
        self.cost_nanos += nanos
        return nanos / NANO_DOLLARS


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
        self.limits = limits
        self.events: RouterEvents = events or _Uncounted()
        self._rng = rng or random.Random()
        self._sleep = sleep
        self.health = TargetHealth(now_ms)

    async def start_chat(
        self,
        params: ChatParams,
        context: CallContext,
        trace: CallTrace,
        *,
        stream: bool,
        deadline: float | None = None,
    ) -> ChatRun:
        """Admits and plans a chat call; the provider is called when `run.events` is iterated.

        Raises before any attempt when the request is invalid, the model unknown or not
        allowed, or a limit blocks it; then nothing is charged.
        """
        validate_params(params)
        call, chain = await self._admit(
            params.model,
            "chat",
            context,
            trace,
            lambda price: estimate_chat(params, price),
            lambda: estimated_input_tokens(params),
            deadline,
        )
        run = ChatRun(f"chatcmpl-{context.request_id}", call)
        run.events = self._chat_events(call, params, run, chain, stream=stream)
        return run

    async def embed(
        self,
        request: EmbedRequest,
        context: CallContext,
        trace: CallTrace,
        *,
        deadline: float | None = None,
    ) -> EmbedOutcome:
        """Runs an embedding call through the same admit -> plan -> attempts -> settle."""
        call, chain = await self._admit(
            request.model,
            "embedding",
            context,
            trace,
            lambda price: estimate_texts(request.inputs, price),
            lambda: estimate_texts(request.inputs, None).tokens,
            deadline,
        )
        try:
            step: Step | None = chain.first()
            while step is not None:
                if step.wait_seconds:
                    await self._sleep(step.wait_seconds)
                route = _resolve(call.snapshot, step.target.model, "embedding")
                call.begin(route)
                try:
                    response = await route.provider.embed(request, route.model.name)
                except GatewayError as error:
                    call.failed(route, step.target, error, 0)
                    step = self._next(chain, step, call.rule, error)
                    if step is None:
                        raise
                    continue
                except asyncio.CancelledError:
                    call.cancelled(route, 0)
                    raise
                except Exception:
                    call.broke(route)
                    raise
                response.model = route.id
                call.answered(route, response.usage.input_tokens, 0)
                if step.fallback_rule is not None:
                    call.applied.fallback = step.fallback_rule.id
                call.trace.embedded(response)
                return EmbedOutcome(response, _headers(route.id, call.applied, call.reservation))
            raise AssertionError("unreachable: a chain always has a first step")
        finally:
            call.settle()

    async def _chat_events(
        self, call: _Call, params: ChatParams, run: ChatRun, chain: AttemptChain, *, stream: bool
    ) -> AsyncIterator[ChatEvent]:
        try:
            step: Step | None = chain.first()
            while step is not None:
                if step.wait_seconds:
                    await self._sleep(step.wait_seconds)
                target = step.target
                route = _resolve(call.snapshot, target.model, "chat")
                sent = apply_overrides(params, target.overrides) if target.overrides else params
                events = route.provider.chat(
                    ChatCall(
                        sent, account=route.account.name, model=route.model.name, stream=stream
                    )
                )
                call.begin(route)
                deltas = 0
                done = False  # whether this attempt's attempt_done was reported
                try:
                    try:
                        # The first event commits the answer: before it, a failure may move on.
                        event = await _first(events, route.id)
                    except GatewayError as error:
                        done = True
                        call.failed(route, target, error, 0)
                        step = self._next(chain, step, call.rule, error)
                        if step is None:
                            raise
                        continue  # `finally` closes this attempt's stream first
                    run.resolved_model = route.id
                    if step.fallback_rule is not None:
                        call.applied.fallback = step.fallback_rule.id
                    while not isinstance(event, ChatResult):
                        deltas += 1
                        yield event
                        try:
                            event = await anext(events)
                        except StopAsyncIteration:
                            raise UpstreamStreamCut(
                                f"{route.id}: stream ended without a result"
                            ) from None
                    _stamp(event, run.completion_id, route.id)
                    usage = event.usage
                    done = True
                    call.answered(route, usage.input_tokens, usage.output_tokens)
                    yield event
                    return
                except GatewayError as error:
                    if not done:  # failed after the commit point
                        done = True
                        call.failed(route, target, error, deltas)
                    raise
                except (asyncio.CancelledError, GeneratorExit):
                    if not done:  # the caller went away mid-call: the provider still bills
                        done = True
                        call.cancelled(route, deltas)
                    raise
                except Exception:
                    if not done:  # a bug (ours or a provider's): the call fails as internal
                        done = True
                        call.broke(route)
                    raise
                finally:
                    await _aclose(events)
        finally:
            call.settle()

    async def _admit(
        self,
        model: str,
        kind: str,
        context: CallContext,
        trace: CallTrace,
        estimate: Callable[[ModelPrice | None], Estimate],
        billable_input: Callable[[], int],
        deadline: float | None,
    ) -> tuple[_Call, AttemptChain]:
        # Everything that can refuse the call (unknown model, every target cooling down, a
        # limit) is checked before anything is charged; the plan is made before admission.
        snapshot = self._source.current
        snapshot.calls.enter()  # from here the snapshot's providers stay open for this call
        try:
            principal, metadata = context.principal, context.metadata
            ensure_model_allowed(principal, model)
            policies = snapshot.policies
            balancing = policies.balancing.get(kind)
            rule = balancing.first(model, principal, metadata) if balancing else None
            if rule is None or model not in policies.virtual_models:
                _resolve(snapshot, model, kind)  # unknown model, or the wrong kind
            plan = plan_targets(rule, self.health, self._rng) if rule else [Target(model)]
            fallbacks = policies.fallbacks.get(kind)
            fallback = fallbacks.first(model, principal, metadata) if fallbacks else None
            limits = policies.limits.matching(model, principal, metadata) if policies.limits else []
            reservation = NO_RESERVATION
            if limits:
                reservation = await self.limits.admit(
                    limits,
                    model=model,
                    principal=principal,
                    metadata=metadata,
                    estimate=estimate(policies.reserve_prices.get(model)),
                )
        except BaseException:
            snapshot.calls.leave()
            raise
        applied = _Applied(limits, balancing=rule.id if rule is not None else "")
        call = _Call(self, snapshot, kind, model, trace, rule, applied, reservation, billable_input)
        return call, AttemptChain(plan, fallback, deadline=deadline, rng=self._rng)

    def _next(
        self, chain: AttemptChain, step: Step, rule: BalanceRule | None, error: GatewayError
    ) -> Step | None:
        retries, fallbacks = chain.retries, chain.fallbacks
        following = chain.after(step, error)
        if following is not None:
            if following.fallback_rule is not None:
                rule_id = following.fallback_rule.id
            else:
                rule_id = rule.id if rule is not None else ""
            if chain.retries > retries:
                self.events.retried(rule_id)
            elif chain.fallbacks > fallbacks:
                self.events.fell_back(rule_id)
        return following


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


async def _first(events: AsyncIterator[ChatEvent], model: str) -> ChatEvent:
    try:
        return await anext(events)
    except StopAsyncIteration:
        raise UpstreamStreamCut(f"{model}: provider returned no answer") from None


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
