"""The attempt chain: which target to try next after a failure, and how long to wait first.

Order: the load-balancing plan (each target retried per its `retry_config`, then the next
fallback candidate when the failure's status is in its `fallback_status_codes`), then the
first matching fallback rule's targets, in order. A connection failure or timeout counts as
a fallback reason everywhere; a retry needs its status listed. Retries wait a jittered
exponential backoff from `delay`, or the provider's `Retry-After` when longer, and never past
the call's deadline: a wait that would cross it ends the chain instead.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import (
    GatewayError,
    UpstreamFailed,
    UpstreamRejected,
    UpstreamStreamCut,
    UpstreamTimeout,
)
from core.router.policies import FallbackRule, Target

MAX_RETRY_WAIT_SECONDS = 30.0
"""Longest one call spends waiting between attempts, whatever the config or Retry-After say."""
TIMEOUT_STATUS = 504
NO_ANSWER_STATUS = 502


def failure_status(error: GatewayError) -> int:
    """The status a failure is matched by in `on_status_codes` and friends."""
    if isinstance(error, UpstreamRejected):
        return error.upstream_status
    if isinstance(error, UpstreamFailed) and error.upstream_status is not None:
        return error.upstream_status
    return error.http_code()


def _no_answer(error: GatewayError) -> bool:
    # No status from the provider: connection failures, timeouts, a stream that broke before
    # its first event (the chain only asks about failures before the commit point).
    if isinstance(error, (UpstreamTimeout, UpstreamStreamCut)):
        return True
    return isinstance(error, UpstreamFailed) and error.upstream_status is None


def _upstream(error: GatewayError) -> bool:
    return isinstance(error, (UpstreamRejected, UpstreamFailed, UpstreamTimeout, UpstreamStreamCut))


def retry_after_ms(error: GatewayError) -> int | None:
    """The provider's `Retry-After`, in ms, when it sent one."""
    raw = error.details.get("retry_after_seconds")
    if raw is None:
        return None
    try:
        return max(int(float(raw) * 1000), 0)
    except ValueError:
        return None


@dataclass(slots=True)
class Step:
    """The next attempt: its target, its number on that target, the wait before it."""

    target: Target
    number: int
    wait_seconds: float = 0.0
    fallback_rule: FallbackRule | None = None
    """Set once the chain has moved on to a fallback rule's targets."""


class AttemptChain:
    """Decides the attempts of one call; `deadline` is a time.monotonic() value or None."""

    def __init__(
        self,
        plan: Sequence[Target],
        fallback: FallbackRule | None,
        *,
        deadline: float | None,
        rng: random.Random,
    ) -> None:
        self._plan = plan
        self._fallback = fallback
        self._deadline = deadline
        self._rng = rng
        self._index = 0
        self._in_fallback = False
        self._tried: set[str] = set()
        self._waited = 0.0
        self.retries = 0
        self.fallbacks = 0

    def first(self) -> Step:
        return Step(self._plan[0], 1)

    def after(self, step: Step, error: GatewayError) -> Step | None:
        """The next step after `step` failed with `error`, or None to give up."""
        self._tried.add(step.target.model)
        if not _upstream(error):
            return None
        status, no_answer = failure_status(error), _no_answer(error)
        if not self._in_fallback:
            following = self._retry(step, status, error) or self._next_planned(
                step.target, status, no_answer
            )
            if following is not None:
                return following
        return self._next_fallback(status, no_answer)

    def _retry(self, step: Step, status: int, error: GatewayError) -> Step | None:
        target = step.target
        if step.number >= target.attempts or status not in target.retry_on:
            return None
        wait = self._backoff(target, step.number, retry_after_ms(error))
        if wait is None:
            return None
        self.retries += 1
        return Step(target, step.number + 1, wait)

    def _next_planned(self, target: Target, status: int, no_answer: bool) -> Step | None:
        fallback_on = target.fallback_on
        if not (no_answer or fallback_on is None or status in fallback_on):
            return None
        self._index += 1
        if self._index >= len(self._plan):
            return None
        self.fallbacks += 1
        return Step(self._plan[self._index], 1)

    def _next_fallback(self, status: int, no_answer: bool) -> Step | None:
        rule = self._fallback
        if rule is None or not (no_answer or status in rule.on_status):
            return None
        if not self._in_fallback:
            self._in_fallback = True
            self._index = -1
        self._index += 1
        while self._index < len(rule.targets) and rule.targets[self._index].model in self._tried:
            self._index += 1  # a target that already failed this call is not tried again
        if self._index >= len(rule.targets):
            return None
        self.fallbacks += 1
        return Step(rule.targets[self._index], 1, fallback_rule=rule)

    def _backoff(self, target: Target, number: int, retry_after: int | None) -> float | None:
        wait = target.retry_delay_ms / 1000 * 2.0 ** (number - 1) * self._rng.uniform(0.5, 1.5)
        if retry_after is not None:
            wait = max(wait, retry_after / 1000)
        if self._waited + wait > MAX_RETRY_WAIT_SECONDS:
            return None
        if self._deadline is not None and time.monotonic() + wait >= self._deadline:
            return None
        self._waited += wait
        return wait
