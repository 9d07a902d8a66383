"""Edges found in review: each a way a call could be mis-routed, mis-counted or turned 500."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import openai
import pytest

from core.auth import Principal
from core.errors import UpstreamFailed, UpstreamRejected
from core.recording import CallContext
from core.router.attempts import AttemptChain
from core.router.balancing import plan_targets
from core.router.counters import Admitted, Refused
from core.router.health import TargetHealth
from core.router.limits import Estimate, Limits, bucket_key
from core.router.local_counters import LocalCounters
from core.router.matching import Matcher
from core.router.policies import RATE_LIMIT_CONFIG, BalanceRule, FallbackRule, LimitRule, Target
from core.router.windows import MINUTE_MS, SlidingWindow
from gateway.v1 import chat_pb2
from tests.router.conftest import MESSAGES, gateway


def fail(account: str, **faults: Any) -> dict[str, Any]:
    return {"mock": {"accounts": {account: faults}}}


async def test_a_non_ascii_rule_id_is_escaped_in_the_header(tmp_path: Path) -> None:
    policies = """
name: limits
type: gateway-rate-limiting-config
rules:
  - {id: "límite-équipe", limit_to: 100, unit: requests_per_minute}
"""
    async with gateway(policies, data_dir=tmp_path) as gw:
        raw = await gw.openai.chat.completions.with_raw_response.create(
            model="mock-a/echo", messages=MESSAGES
        )
    assert json.loads(raw.headers["x-tfy-applied-configurations"]) == {
        "gateway-rate-limiting-config": ["límite-équipe"]
    }


async def test_a_rule_without_models_routes_only_its_kind_and_known_models(
    tmp_path: Path,
) -> None:
    policies = """
name: lb
type: gateway-load-balancing-config
rules:
  - id: admins-to-b
    type: priority-based-routing
    when: {subjects: ["user:admin"]}
    load_balance_targets: [{target: mock-b/echo, priority: 0}]
---
name: fb
type: gateway-fallback-config
rules:
  - id: everything
    when: {}
    fallback_models: [{target: mock-c/echo}]
"""
    async with gateway(policies, data_dir=tmp_path) as gw:
        answer = await gw.openai.chat.completions.create(model="mock-a/echo", messages=MESSAGES)
        assert answer.model == "mock-b/echo"
        embedded = await gw.openai.embeddings.create(model="mock-a/embed", input=["x"])
        assert embedded.model == "mock-a/embed"  # a chat rule never routes embeddings
        with pytest.raises(openai.NotFoundError):
            await gw.openai.chat.completions.create(model="no-such/model", messages=MESSAGES)
        with pytest.raises(openai.InternalServerError):  # the provider's 503, not a 400
            await gw.openai.embeddings.create(
                model="mock-a/embed", input=["x"], extra_body=fail("mock-a", status=503)
            )


async def test_a_stream_that_breaks_before_its_first_byte_falls_back(tmp_path: Path) -> None:
    policies = """
name: fb
type: gateway-fallback-config
rules:
  - {id: fb, when: {models: [mock-a/echo]}, fallback_models: [{target: mock-b/echo}]}
"""
    async with gateway(policies, data_dir=tmp_path) as gw:
        stream = await gw.openai.chat.completions.create(
            model="mock-a/echo",
            messages=MESSAGES,
            stream=True,
            extra_body=fail("mock-a", cut_after=0),
        )
        assert {c.model async for c in stream} == {"mock-b/echo"}
        attempts = [(a.model, a.error_code) for a in gw.last().attempts]
        assert attempts == [("mock-a/echo", "upstream_stream_cut"), ("mock-b/echo", "")]
        # A caller's own mistake (400) is not the provider's trouble: no fallback.
        with pytest.raises(openai.BadRequestError):
            await gw.openai.chat.completions.create(
                model="mock-a/echo", messages=MESSAGES, extra_body=fail("mock-a", status=400)
            )
        assert len(gw.last().attempts) == 1


class Attempts:
    """A CallTrace keeping only the attempts."""

    def __init__(self) -> None:
        self.done: list[tuple[int, int]] = []

    def attempt(self, target: str, provider_account: str) -> None: ...

    def attempt_done(
        self, status: int, error_code: str, input_tokens: int, output_tokens: int, cost: float
    ) -> None:
        self.done.append((status, output_tokens))

    def event(self, event: object) -> None: ...
    def embedded(self, response: object) -> None: ...
    def failed(self, error: object) -> None: ...
    def cancelled(self) -> None: ...
    def finish(self) -> None: ...


async def test_closing_a_finished_stream_records_its_attempt_once(tmp_path: Path) -> None:
    params = chat_pb2.ChatParams(
        model="mock-a/echo", messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, text="a b c")]
    )
    context = CallContext("rid", "rid", Principal("user:a@example.com", "k"), {}, True, 0, 0)
    trace = Attempts()
    async with gateway(data_dir=tmp_path) as gw:
        run = await gw.core.router.start_chat(params, context, trace, stream=True)
        events = run.events
        async for event in events:
            if isinstance(event, chat_pb2.ChatResult):
                break  # the caller leaves right after the result: GeneratorExit at that yield
        await events.aclose()  # type: ignore[attr-defined]
    assert trace.done == [(200, 3)]


async def test_embedding_targets_cool_down_too(tmp_path: Path) -> None:
    policies = """
name: lb
type: gateway-load-balancing-config
rules:
  - id: embeds
    type: priority-based-routing
    when: {models: [embed-any]}
    load_balance_targets:
      - target: mock-a/embed
        priority: 0
        retry_config: {attempts: 1}
        failure_tolerance: {allowed_failures_per_minute: 0, cooldown_period_minutes: 1}
      - {target: mock-b/embed, priority: 1}
"""
    async with gateway(policies, data_dir=tmp_path) as gw:
        raw = await gw.openai.embeddings.with_raw_response.create(
            model="embed-any", input=["x"], extra_body=fail("mock-a", status=503)
        )
        assert raw.parse().model == "mock-b/embed"
        await gw.openai.embeddings.create(model="embed-any", input=["x"])
        assert [a.model for a in gw.last().attempts] == ["mock-b/embed"]  # mock-a cools down


async def test_failing_counters_answer_503_not_500(tmp_path: Path) -> None:
    class Broken(LocalCounters):
        async def charge(self, charges: Any, now_ms: int) -> Admitted | Refused:
            raise OSError("disk I/O error")

    policies = """
name: limits
type: gateway-rate-limiting-config
rules:
  - {id: any, limit_to: 5, unit: requests_per_minute}
"""
    async with gateway(policies, data_dir=tmp_path, counters=Broken()) as gw:
        with pytest.raises(openai.APIStatusError) as caught:
            await gw.openai.chat.completions.create(model="mock-a/echo", messages=MESSAGES)
    assert caught.value.status_code == 503
    assert caught.value.body["code"] == "limits_unavailable"  # type: ignore[index]
    assert caught.value.response.headers["retry-after"] == "1"


def limit_rule(measure: str = "tokens", applies_per: tuple[str, ...] = ()) -> LimitRule:
    return LimitRule(
        id="r",
        config_type=RATE_LIMIT_CONFIG,
        matcher=Matcher(),
        measure=measure,  # type: ignore[arg-type]
        window=SlidingWindow(MINUTE_MS),
        limit=1000,
        applies_per=applies_per,
        unit=f"{measure}_per_minute",
    )


async def test_usage_beyond_the_reservation_is_charged_even_after_the_window() -> None:
    clock = [10 * MINUTE_MS]
    counters = LocalCounters()
    limits = Limits(counters, now_ms=lambda: clock[0])
    alice = Principal("user:alice@example.com", "k")
    rule = limit_rule()
    reservation = await limits.admit(
        [rule], model="m", principal=alice, metadata={}, estimate=Estimate(300, 0)
    )
    clock[0] += 65_000  # a long stream: its reservation slot has left the window
    limits.settle(reservation, tokens=5000, cost_nanos=0)
    with pytest.raises(openai.RateLimitError.__mro__[0] if False else Exception) as caught:
        await limits.admit(
            [rule], model="m", principal=alice, metadata={}, estimate=Estimate(90, 0)
        )
    assert "exceeded" in str(caught.value)


def test_every_caller_is_its_own_virtualaccount_bucket() -> None:
    rule = limit_rule("requests", ("virtualaccount",))
    bot = Principal("virtualaccount:bot", "k1")
    alice, bob = Principal("user:alice@example.com", "k2"), Principal("user:bob@example.com", "k3")
    keys = {bucket_key(rule, "m", p, {}) for p in (bot, alice, bob)}
    assert len(keys) == 3


def test_a_failing_target_stops_looking_fastest() -> None:
    lb = BalanceRule("r", "latency-based-routing", Matcher(), (Target("bad/x"), Target("ok/x")))
    health, rng = TargetHealth(lambda: 0), random.Random(5)
    health.observed("r", "ok/x", 50.0, 10)
    health.failed("r", "bad/x", 500, None, None)
    assert [plan_targets(lb, health, rng)[0].model for _ in range(50)] == ["ok/x"] * 50


def test_fallback_skips_only_targets_that_were_tried() -> None:
    a = Target("a/x", fallback_on=frozenset({429}))
    b, c = Target("b/x"), Target("c/x")
    rule = FallbackRule("fb", Matcher(), frozenset({500}), (b, c))
    chain = AttemptChain([a, b], rule, deadline=None, rng=random.Random(1))
    following = chain.after(chain.first(), UpstreamFailed("x", upstream_status=500))
    assert following is not None
    assert following.target == b  # b was planned but never tried: the fallback tries it
    assert chain.after(following, UpstreamRejected("x", upstream_status=400)) is None
