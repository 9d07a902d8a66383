"""What this process has seen of each target: failures (for cooldowns), speed, calls in flight.

Process-local by design: cooldowns and latency steer one instance's choices from its own
observations (every instance sees the same providers), and need no store round trip.

Cooldown (`failure_tolerance`): failures with a listed status are counted per minute (60
one-second slots); when a minute holds more than `allowed_failures_per_minute`, the target is
skipped for `cooldown_period_minutes`. A provider's `Retry-After` also cools the target until
then. Latency: an EWMA of milliseconds per output token, which compares targets fairly
whatever the answer lengths.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from core.router.policies import Tolerance

EWMA_ALPHA = 0.3
"""Weight of the newest observation in the latency average."""
FAILURE_MS_PER_TOKEN = 1000.0
"""What a provider's failure (429, 5xx, timeout) counts as in the latency average: far slower
than any real answer, so latency-based routing leaves a failing target."""
STALE_AFTER_MS = 60_000
"""A target not measured for this long counts as unmeasured again (as fast as any), so a
target that was avoided gets tried, and re-measured, after a minute."""
_SECOND_MS = 1000
_MINUTE_SLOTS = 60


@dataclass(slots=True)
class _TargetHealth:
    failures: dict[int, int] = field(default_factory=dict)
    """Failures by second (epoch s), the last minute only."""
    cooled_until_ms: int = 0
    ms_per_token: float | None = None
    measured_at_ms: int = 0
    in_flight: int = 0


class TargetHealth:
    """Per (rule id, target model) state; `now_ms` is injectable for tests."""

    def __init__(self, now_ms: Callable[[], int]) -> None:
        self._now_ms = now_ms
        self._targets: dict[tuple[str, str], _TargetHealth] = {}

    def _of(self, rule_id: str, model: str) -> _TargetHealth:
        key = (rule_id, model)
        state = self._targets.get(key)
        if state is None:
            state = self._targets[key] = _TargetHealth()
        return state

    def cooling(self, rule_id: str, model: str) -> bool:
        """Whether the target is cooling down now."""
        state = self._targets.get((rule_id, model))
        return state is not None and state.cooled_until_ms > self._now_ms()

    def failed(
        self,
        rule_id: str,
        model: str,
        status: int,
        tolerance: Tolerance | None,
        retry_after_ms: int | None,
    ) -> bool:
        """Counts a failure; True when it starts a cooldown."""
        now = self._now_ms()
        state = self._of(rule_id, model)
        if status == 429 or status >= 500:  # the provider's trouble, not a caller's 4xx
            _average(state, FAILURE_MS_PER_TOKEN, now)
        until = now + retry_after_ms if retry_after_ms else 0
        if tolerance is not None and status in tolerance.on_status:
            second = now // _SECOND_MS
            failures = state.failures
            failures[second] = failures.get(second, 0) + 1
            for old in [s for s in failures if s <= second - _MINUTE_SLOTS]:
                del failures[old]
            if sum(failures.values()) > tolerance.allowed_per_minute:
                until = max(until, now + tolerance.cooldown_ms)
                failures.clear()
        if until > state.cooled_until_ms:
            started = state.cooled_until_ms <= now
            state.cooled_until_ms = until
            return started
        return False

    def started(self, rule_id: str, model: str) -> None:
        self._of(rule_id, model).in_flight += 1

    def ended(self, rule_id: str, model: str) -> None:
        state = self._of(rule_id, model)
        state.in_flight = max(state.in_flight - 1, 0)

    def observed(self, rule_id: str, model: str, elapsed_ms: float, output_tokens: int) -> None:
        """A successful answer of `output_tokens` tokens took `elapsed_ms`."""
        _average(self._of(rule_id, model), elapsed_ms / max(output_tokens, 1), self._now_ms())

    def ms_per_token(self, rule_id: str, model: str) -> float | None:
        state = self._targets.get((rule_id, model))
        if state is None or self._now_ms() - state.measured_at_ms > STALE_AFTER_MS:
            return None
        return state.ms_per_token

    def in_flight(self, rule_id: str, model: str) -> int:
        state = self._targets.get((rule_id, model))
        return 0 if state is None else state.in_flight


def _average(state: _TargetHealth, sample: float, now_ms: int) -> None:
    previous = state.ms_per_token
    if previous is None or now_ms - state.measured_at_ms > STALE_AFTER_MS:
        state.ms_per_token = sample  # a stale average is not mixed into a fresh one
    else:
        state.ms_per_token = previous + EWMA_ALPHA * (sample - previous)
    state.measured_at_ms = now_ms
