"""Rate limits and budgets: admit a call against every matching rule, settle what it used.

ALL matching rules count and any one blocks. Before the call, each rule's bucket is charged
in one all-or-nothing `WindowCounters.charge`: a request (requests units), the estimated
tokens (tokens units), or the estimated cost (budgets, in nano-dollars). A blocked request
charges nothing. After the call, `settle` corrects each bucket by actual minus reserved, so
a shortfall is returned and an excess is owed, never lost.

Token estimate: input ~ one token per 4 characters of message text (plus 4 per message),
output = `max_completion_tokens` / `max_tokens`, else DEFAULT_OUTPUT_TOKENS. The estimate
bounds the admitted tokens in a window exactly when it is not below what the call uses
(always true for output when the caller sets a maximum); otherwise the window can exceed its
limit by one call's underestimate, which the next admissions see.

Budgets admit while the period's spend (charged estimates included) is under `limit_to`, so
concurrent calls against an almost-spent budget overspend by at most one call's cost.
`audit_mode` budgets count but never block.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from core.auth import Principal
from core.config.models import ModelPrice
from core.errors import BudgetExceeded, LimitsUnavailable, RateLimited
from core.pricing import NANO_DOLLARS, cost_nanos
from core.router.counters import Adjustment, Charge, Refused, WindowCounters
from core.router.policies import BUDGET_CONFIG, LimitRule
from gateway.v1.chat_pb2 import ChatParams, Message

log = logging.getLogger(__name__)

DEFAULT_OUTPUT_TOKENS = 256
"""Output tokens reserved for a call that sets no maximum."""
_CHARS_PER_TOKEN = 4
_TOKENS_PER_MESSAGE = 4
_NO_LIMIT = 2**62
"""The limit an audit-mode budget is charged with: it counts, never blocks."""

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Estimate:
    """What a call is expected to use, before it runs."""

    tokens: int
    cost_nanos: int


@dataclass(frozen=True, slots=True)
class Reservation:
    """What admission charged, to correct once the call's real usage is known."""

    rules: Sequence[LimitRule]
    charges: Sequence[Charge]
    estimate: Estimate
    headers: Headers = ()


NO_RESERVATION = Reservation((), (), Estimate(0, 0))


def estimate_chat(params: ChatParams, price: ModelPrice | None) -> Estimate:
    """The tokens and cost reserved for a chat call."""
    input_tokens = estimated_input_tokens(params)
    if params.HasField("max_completion_tokens"):
        output_tokens = params.max_completion_tokens
    elif params.HasField("max_tokens"):
        output_tokens = params.max_tokens
    else:
        output_tokens = DEFAULT_OUTPUT_TOKENS
    return Estimate(input_tokens + output_tokens, cost_nanos(price, input_tokens, output_tokens))


def estimate_texts(texts: Sequence[str], price: ModelPrice | None) -> Estimate:
    """The tokens and cost reserved for an embedding call."""
    tokens = sum(len(t) for t in texts) // _CHARS_PER_TOKEN + len(texts)
    return Estimate(tokens, cost_nanos(price, tokens, 0))


def estimated_input_tokens(params: ChatParams) -> int:
    """Input tokens of a call the provider billed without reporting usage (a timeout)."""
    chars = sum(_message_chars(m) for m in params.messages)
    return chars // _CHARS_PER_TOKEN + _TOKENS_PER_MESSAGE * len(params.messages)


def _message_chars(message: Message) -> int:
    chars = len(message.text)
    for part in message.parts.parts:
        chars += len(part.text.text)
    for call in message.tool_calls:
        chars += len(call.function.arguments) + len(call.function.name)
    return chars


class Limits:
    """Admission and settlement over one `WindowCounters`."""

    def __init__(
        self,
        counters: WindowCounters,
        *,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        on_blocked: Callable[[str], None] | None = None,
    ) -> None:
        self._counters = counters
        self._now_ms = now_ms
        self._on_blocked = on_blocked
        self._settling: set[asyncio.Task[None]] = set()

    async def admit(
        self,
        rules: Sequence[LimitRule],
        *,
        model: str,
        principal: Principal,
        metadata: Mapping[str, str],
        estimate: Estimate,
    ) -> Reservation:
        """Charges every rule's bucket, or raises RateLimited/BudgetExceeded charging none."""
        if not rules:
            return NO_RESERVATION
        now = self._now_ms()
        charges = [
            _charge(rule, bucket_key(rule, model, principal, metadata), estimate, now)
            for rule in rules
        ]
        try:
            outcome = await self._counters.charge(charges, now)
        except Exception as exc:
            # Fail closed: without its counters a limit cannot be kept, and admitting anyway
            # could overspend a budget; the caller gets a clear, retryable 503.
            log.exception("rate-limit counters failed")
            raise LimitsUnavailable(
                f"rate limits and budgets cannot be checked right now ({type(exc).__name__}); "
                "retry shortly",
                details={"retry_after_seconds": "1"},
            ) from exc
        if isinstance(outcome, Refused):
            rule = rules[outcome.index]
            if self._on_blocked is not None:
                self._on_blocked(rule.id)  # counted by rule id (Prometheus)
            raise _blocked(rule, charges[outcome.index], outcome, now)
        for rule, used in zip(rules, outcome.used, strict=True):
            if rule.audit_mode and used > rule.limit:
                log.warning(
                    "budget %s (audit mode) is spent: %.6f USD", rule.id, used / NANO_DOLLARS
                )
        return Reservation(rules, charges, estimate, _headers(rules, outcome.used))

    def settle(self, reservation: Reservation, *, tokens: int, cost_nanos: int) -> None:
        """Corrects the buckets by actual minus reserved (in the background when the counters
        are in a store). A shortfall is returned to the slot it was reserved in; an excess
        is charged now, to the current slot, so a call longer than its window still counts."""
        adjustments = []
        now = 0
        for rule, charge in zip(reservation.rules, reservation.charges, strict=True):
            if rule.measure == "tokens":
                delta = tokens - reservation.estimate.tokens
            elif rule.measure == "cost":
                delta = cost_nanos - reservation.estimate.cost_nanos
            else:
                continue
            if delta < 0:
                adjustments.append(Adjustment(charge.key, charge.slot, delta, charge.expires_at_ms))
            elif delta > 0:
                now = now or self._now_ms()
                slot, _, expires_at_ms = rule.window.place(now)
                adjustments.append(Adjustment(charge.key, slot, delta, expires_at_ms))
        if not adjustments or self._counters.settle_nowait(adjustments):
            return
        task = asyncio.get_running_loop().create_task(self._settle(adjustments))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _settle(self, adjustments: list[Adjustment]) -> None:
        try:
            await self._counters.settle(adjustments)
        except Exception:  # an unsettled correction must not fail anything else
            log.exception("could not settle %d limit buckets", len(adjustments))

    async def drain(self) -> None:
        """Waits for every pending settlement (at shutdown)."""
        while self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)


def bucket_key(
    rule: LimitRule, model: str, principal: Principal, metadata: Mapping[str, str]
) -> str:
    """The counter key of the rule's bucket for this call (one per `applies_per` value)."""
    key = rule.key_prefix
    for per in rule.applies_per:
        if per == "user":
            value = principal.subject
        elif per == "model":
            value = model
        elif per == "virtualaccount":
            # A caller that is not a virtual account is a bucket of its own too: one shared
            # bucket would let one user's traffic block everyone else's.
            value = principal.subject
        else:
            value = metadata.get(per.removeprefix("metadata."), "")
        key += f"|{value}"
    return key


def _charge(rule: LimitRule, key: str, estimate: Estimate, now_ms: int) -> Charge:
    slot, first_slot, expires_at_ms = rule.window.place(now_ms)
    measure = rule.measure
    if measure == "requests":
        amount = 1
    elif measure == "tokens":
        amount = estimate.tokens
    else:
        amount = estimate.cost_nanos
    limit = _NO_LIMIT if rule.audit_mode else rule.limit
    return Charge(key, slot, first_slot, amount, limit, expires_at_ms, measure == "cost")


def _blocked(rule: LimitRule, charge: Charge, refused: Refused, now_ms: int) -> RateLimited:
    if refused.oldest_slot is None:
        retry_after_ms = rule.window.free_at_ms(charge.slot) - now_ms
    else:
        retry_after_ms = rule.window.free_at_ms(refused.oldest_slot) - now_ms
    retry_after = max(math.ceil(retry_after_ms / 1000), 1)
    details = {
        "rule_id": rule.id,
        "config_type": rule.config_type,
        "retry_after_seconds": str(retry_after),
    }
    if rule.config_type == BUDGET_CONFIG:
        spent = refused.used / NANO_DOLLARS
        return BudgetExceeded(
            f"budget rule {rule.id!r} is spent for this period "
            f"({spent:.6f} of {rule.limit / NANO_DOLLARS:g} USD, {rule.unit})",
            details=details,
        )
    what = rule.measure
    if charge.amount > rule.limit:
        message = (
            f"rate limit rule {rule.id!r}: this request needs {charge.amount} {what}, more "
            f"than the whole limit of {rule.limit} {rule.unit}"
        )
    else:
        message = (
            f"rate limit rule {rule.id!r} exceeded: {refused.used} of {rule.limit} {what} "
            f"used ({rule.unit}); retry after {retry_after} s"
        )
    remaining = max(rule.limit - refused.used, 0)
    details[f"x-ratelimit-limit-{what}"] = str(rule.limit)
    details[f"x-ratelimit-remaining-{what}"] = str(remaining)
    details[f"x-ratelimit-reset-{what}"] = f"{retry_after}s"
    return RateLimited(message, details=details)


def _headers(rules: Sequence[LimitRule], used: Sequence[int]) -> Headers:
    # The tightest rule per measure, as OpenAI reports one limit per measure.
    tightest: dict[str, tuple[int, int]] = {}
    for rule, total in zip(rules, used, strict=True):
        if rule.measure == "cost" or rule.audit_mode:
            continue
        remaining = max(rule.limit - total, 0)
        best = tightest.get(rule.measure)
        if best is None or remaining < best[1]:
            tightest[rule.measure] = (rule.limit, remaining)
    headers: list[tuple[str, str]] = []
    for measure, (limit, remaining) in sorted(tightest.items()):
        headers.append((f"x-ratelimit-limit-{measure}", str(limit)))
        headers.append((f"x-ratelimit-remaining-{measure}", str(remaining)))
    return tuple(headers)
