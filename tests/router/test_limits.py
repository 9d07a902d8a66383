"""Rate limits and budgets through the whole gateway: 429s with headers, all-or-nothing
charges, token reservations settled, budgets under concurrency, details over gRPC."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import openai
import pytest
from prometheus_client import CollectorRegistry

from core.metrics import build_metrics
from gateway.v1 import chat_pb2
from gateway_client import GatewayClient, RateLimitError
from tests.router.conftest import ALICE_KEY, BOB_KEY, MESSAGES, gateway

REQUEST_LIMITS = """
name: limits
type: gateway-rate-limiting-config
rules:
  - id: per-user
    when: {models: [mock-a/echo]}
    limit_to: 2
    unit: requests_per_minute
    rate_limit_applies_per: [user]
  - id: everyone
    when: {models: [mock-a/echo]}
    limit_to: 5
    unit: requests_per_hour
"""


async def test_the_limit_blocks_with_429_naming_the_rule_and_headers(tmp_path: Path) -> None:
    async with gateway(REQUEST_LIMITS, data_dir=tmp_path) as gw:
        alice = gw.as_key(ALICE_KEY)
        for expected_remaining in ("1", "0"):
            raw = await alice.chat.completions.with_raw_response.create(
                model="mock-a/echo", messages=MESSAGES
            )
            assert raw.headers["x-ratelimit-remaining-requests"] == expected_remaining
            assert raw.headers["x-ratelimit-limit-requests"] == "2"
            assert json.loads(raw.headers["x-tfy-applied-configurations"]) == {
                "gateway-rate-limiting-config": ["per-user", "everyone"]
            }
        with pytest.raises(openai.RateLimitError) as caught:
            await alice.chat.completions.create(model="mock-a/echo", messages=MESSAGES)
    error = caught.value
    assert "per-user" in error.message
    headers = error.response.headers
    assert 1 <= int(headers["retry-after"]) <= 61
    assert headers["x-ratelimit-limit-requests"] == "2"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"].endswith("s")
    assert error.body["code"] == "rate_limited"  # type: ignore[index]
    assert gw.last().http_status == 429
    assert gw.last().attempts == ()


async def test_all_matching_rules_count_and_a_blocked_request_consumes_nothing(
    tmp_path: Path,
) -> None:
    async with gateway(REQUEST_LIMITS, data_dir=tmp_path) as gw:
        alice, bob, admin = gw.as_key(ALICE_KEY), gw.as_key(BOB_KEY), gw.openai
        for _ in range(2):
            await alice.chat.completions.create(model="mock-a/echo", messages=MESSAGES)
        for _ in range(3):  # blocked by per-user: `everyone` must not be charged
            with pytest.raises(openai.RateLimitError, match="per-user"):
                await alice.chat.completions.create(model="mock-a/echo", messages=MESSAGES)
        for _ in range(2):
            await bob.chat.completions.create(model="mock-a/echo", messages=MESSAGES)
        await admin.chat.completions.create(model="mock-a/echo", messages=MESSAGES)  # 5th
        with pytest.raises(openai.RateLimitError, match="everyone"):
            await admin.chat.completions.create(model="mock-a/echo", messages=MESSAGES)
        # Other models are not limited.
        await admin.chat.completions.create(model="mock-b/echo", messages=MESSAGES)


async def test_metadata_buckets(tmp_path: Path) -> None:
    policies = """
name: limits
type: gateway-rate-limiting-config
rules:
  - id: per-customer
    when: {metadata: {env: dev}}
    limit_to: 1
    unit: requests_per_day
    rate_limit_applies_per: ['metadata.customer']
"""
    async with gateway(policies, data_dir=tmp_path) as gw:

        async def call(customer: str, env: str = "dev") -> None:
            meta = json.dumps({"env": env, "customer": customer})
            await gw.openai.chat.completions.create(
                model="mock-a/echo", messages=MESSAGES, extra_headers={"x-tfy-metadata": meta}
            )

        await call("acme")
        await call("globex")
        await call("acme", env="prod")  # the rule does not match prod
        with pytest.raises(openai.RateLimitError, match="per-customer"):
            await call("acme")


async def test_token_reservation_is_settled_to_actual_usage(tmp_path: Path) -> None:
    policies = """
name: limits
type: gateway-rate-limiting-config
rules:
  - id: tokens
    limit_to: 100
    unit: tokens_per_minute
"""
    async with gateway(policies, data_dir=tmp_path) as gw:
        # Each call reserves ~64 tokens (60 of output) and uses ~6: were the reservation
        # kept, the second call would not fit in 100.
        for _ in range(3):
            await gw.openai.chat.completions.create(
                model="mock-a/echo", messages=MESSAGES, max_tokens=60
            )
            await gw.core.router.limits.drain()
        with pytest.raises(openai.RateLimitError, match="more than the whole limit"):
            await gw.openai.chat.completions.create(
                model="mock-a/echo", messages=MESSAGES, max_tokens=500
            )


async def test_budget_overspends_by_at_most_one_request_under_concurrency(
    tmp_path: Path,
) -> None:
    # A call costs ~(4 in + 2 out) tokens at $1000/$2000 per million: about $0.008.
    policies = """
name: budgets
type: gateway-budget-config
rules:
  - id: tiny
    when: {models: [mock-a/echo]}
    limit_to: 0.05
    unit: cost_per_day
"""
    async with gateway(policies, data_dir=tmp_path) as gw:
        calls = [
            gw.openai.chat.completions.create(model="mock-a/echo", messages=MESSAGES, max_tokens=2)
            for _ in range(50)
        ]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        await gw.core.router.limits.drain()
    refused = [o for o in outcomes if isinstance(o, openai.RateLimitError)]
    assert refused
    assert all("tiny" in e.message for e in refused)
    answered = [r for r in gw.records() if r.status == "success"]
    assert len(answered) + len(refused) == 50
    spent = sum(r.cost for r in answered)
    assert spent <= 0.05 + max(r.cost for r in answered)
    assert refused[0].body["code"] == "budget_exceeded"  # type: ignore[index]


async def test_audit_mode_budget_never_blocks(tmp_path: Path) -> None:
    policies = """
name: budgets
type: gateway-budget-config
rules:
  - {id: watch, limit_to: 0, unit: cost_per_month, audit_mode: true}
"""
    async with gateway(policies, data_dir=tmp_path) as gw:
        for _ in range(3):
            await gw.openai.chat.completions.create(model="mock-a/echo", messages=MESSAGES)


async def test_grpc_callers_get_the_rule_and_retry_after(tmp_path: Path) -> None:
    policies = """
name: limits
type: gateway-rate-limiting-config
rules:
  - {id: one, limit_to: 1, unit: requests_per_hour}
"""
    params = chat_pb2.ChatParams(
        model="mock-a/echo",
        messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, text="hi")],
    )
    async with (
        gateway(policies, data_dir=tmp_path) as gw,
        GatewayClient(gw.target, api_key=ALICE_KEY) as client,
    ):
        answer = await client.route(params)
        assert answer.headers["x-ratelimit-remaining-requests"] == "0"
        with pytest.raises(RateLimitError) as caught:
            await client.route(params)
    metadata = caught.value.metadata
    assert metadata["rule_id"] == "one"
    assert metadata["config_type"] == "gateway-rate-limiting-config"
    assert 3600 <= float(metadata["retry_after_seconds"]) <= 3600 + 60 + 1  # one hour + a slot


async def test_prometheus_counts_refusals_retries_fallbacks_and_cooldowns_by_rule(
    tmp_path: Path,
) -> None:
    policies = """
name: limits
type: gateway-rate-limiting-config
rules:
  - {id: three-a-minute, when: {models: [smart]}, limit_to: 3, unit: requests_per_minute}
---
name: lb
type: gateway-load-balancing-config
rules:
  - id: smart
    type: priority-based-routing
    when: {models: [smart]}
    load_balance_targets:
      - target: mock-a/echo
        priority: 0
        retry_config: {attempts: 2, delay: 0, on_status_codes: [503]}
        failure_tolerance: {allowed_failures_per_minute: 1, cooldown_period_minutes: 1}
      - {target: mock-b/echo, priority: 1}
"""
    registry = CollectorRegistry()
    metrics = build_metrics(registry)
    down = {"mock": {"accounts": {"mock-a": {"status": 503}}}}
    async with gateway(policies, data_dir=tmp_path, router_metrics=metrics.router) as gw:
        await gw.openai.chat.completions.create(model="smart", messages=MESSAGES, extra_body=down)
        for _ in range(2):
            await gw.openai.chat.completions.create(model="smart", messages=MESSAGES)
        with pytest.raises(openai.RateLimitError):
            await gw.openai.chat.completions.create(model="smart", messages=MESSAGES)

    def value(name: str, rule: str) -> float | None:
        return registry.get_sample_value(f"llm_gateway_{name}_total", {"rule": rule})

    assert value("routing_retries", "smart") == 1
    assert value("routing_fallbacks", "smart") == 1
    assert value("routing_cooldowns", "smart") == 1
    assert value("rate_limited", "three-a-minute") == 1
