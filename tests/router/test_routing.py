"""Load balancing, fallbacks, retries, cooldowns and overrides, end to end through the facade."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from gateway_client import GatewayClient
from tests.router.conftest import ADMIN_KEY, MESSAGES, gateway


def fail(account: str, status: int, **extra: Any) -> dict[str, Any]:
    """extra_body making one mock account fail with `status`."""
    return {"mock": {"accounts": {account: {"status": status, **extra}}}}


LB_PRIORITY = """
name: lb
type: gateway-load-balancing-config
rules:
  - id: smart-priority
    type: priority-based-routing
    when: {models: [smart]}
    load_balance_targets:
      - {target: mock-a/echo, priority: 0, retry_config: {attempts: 1}}
      - {target: mock-b/echo, priority: 1}
"""


async def test_virtual_model_answers_from_its_first_target(tmp_path: Path) -> None:
    async with gateway(LB_PRIORITY, data_dir=tmp_path) as gw:
        raw = await gw.openai.chat.completions.with_raw_response.create(
            model="smart", messages=MESSAGES
        )
    answer = raw.parse()
    assert answer.model == "mock-a/echo"
    assert raw.headers["x-tfy-resolved-model"] == "mock-a/echo"
    assert json.loads(raw.headers["x-tfy-applied-configurations"]) == {
        "gateway-load-balancing-config": ["smart-priority"]
    }
    record = gw.last()
    assert (record.model, record.resolved_model) == ("smart", "mock-a/echo")
    assert [(a.model, a.http_status) for a in record.attempts] == [("mock-a/echo", 200)]


async def test_priority_moves_to_the_next_target_on_failure(tmp_path: Path) -> None:
    async with gateway(LB_PRIORITY, data_dir=tmp_path) as gw:
        raw = await gw.openai.chat.completions.with_raw_response.create(
            model="smart", messages=MESSAGES, extra_body=fail("mock-a", 503)
        )
    assert raw.headers["x-tfy-resolved-model"] == "mock-b/echo"
    record = gw.last()
    assert record.status == "success"
    assert [(a.model, a.http_status) for a in record.attempts] == [
        ("mock-a/echo", 503),
        ("mock-b/echo", 200),
    ]
    assert record.input_tokens == record.attempts[1].input_tokens  # the refused one cost nothing


async def test_a_status_not_listed_is_returned_not_fallen_back(tmp_path: Path) -> None:
    async with gateway(LB_PRIORITY, data_dir=tmp_path) as gw:
        with pytest.raises(openai.BadRequestError):
            await gw.openai.chat.completions.create(
                model="smart", messages=MESSAGES, extra_body=fail("mock-a", 400)
            )
    assert [a.model for a in gw.last().attempts] == ["mock-a/echo"]


async def test_unknown_virtual_model_without_matching_rule_is_404(tmp_path: Path) -> None:
    policies = LB_PRIORITY.replace(
        "when: {models: [smart]}", "when: {models: [smart], metadata: {env: prod}}"
    )
    async with gateway(policies, data_dir=tmp_path) as gw:
        with pytest.raises(openai.NotFoundError, match="load-balancing rules"):
            await gw.openai.chat.completions.create(model="smart", messages=MESSAGES)
        answer = await gw.openai.chat.completions.create(
            model="smart", messages=MESSAGES, extra_headers={"x-tfy-metadata": '{"env": "prod"}'}
        )
    assert answer.model == "mock-a/echo"


RETRIES = """
name: lb
type: gateway-load-balancing-config
rules:
  - id: retrying
    type: priority-based-routing
    when: {models: [smart]}
    load_balance_targets:
      - target: mock-a/echo
        priority: 0
        retry_config: {attempts: 3, delay: 0, on_status_codes: [503]}
      - {target: mock-b/echo, priority: 1}
"""


async def test_retries_then_falls_back(tmp_path: Path) -> None:
    async with gateway(RETRIES, data_dir=tmp_path) as gw:
        await gw.openai.chat.completions.create(
            model="smart", messages=MESSAGES, extra_body=fail("mock-a", 503)
        )
        attempts = [(a.model, a.http_status) for a in gw.last().attempts]
        assert attempts == [("mock-a/echo", 503)] * 3 + [("mock-b/echo", 200)]
        # 429 is not in on_status_codes: no retry, straight to the next target.
        await gw.openai.chat.completions.create(
            model="smart", messages=MESSAGES, extra_body=fail("mock-a", 429)
        )
        attempts = [(a.model, a.http_status) for a in gw.last().attempts]
        assert attempts == [("mock-a/echo", 429), ("mock-b/echo", 200)]


FALLBACK = """
name: fb
type: gateway-fallback-config
rules:
  - id: echo-fallback
    when:
      models: [mock-a/echo]
      response_status_codes: [500, 503]
    fallback_models:
      - {target: mock-b/echo}
      - {target: mock-c/echo}
"""


async def test_fallback_chain_on_listed_status(tmp_path: Path) -> None:
    async with gateway(FALLBACK, data_dir=tmp_path) as gw:
        both_down = {"mock": {"accounts": {"mock-a": {"status": 503}, "mock-b": {"status": 500}}}}
        raw = await gw.openai.chat.completions.with_raw_response.create(
            model="mock-a/echo", messages=MESSAGES, extra_body=both_down
        )
        assert raw.headers["x-tfy-resolved-model"] == "mock-c/echo"
        assert json.loads(raw.headers["x-tfy-applied-configurations"]) == {
            "gateway-fallback-config": ["echo-fallback"]
        }
        assert [a.http_status for a in gw.last().attempts] == [503, 500, 200]
        # 502 is not listed: the error is the answer.
        with pytest.raises(openai.InternalServerError):
            await gw.openai.chat.completions.create(
                model="mock-a/echo", messages=MESSAGES, extra_body=fail("mock-a", 502)
            )
        assert len(gw.last().attempts) == 1


async def test_fallback_on_timeout_bills_the_abandoned_attempt(tmp_path: Path) -> None:
    async with gateway(FALLBACK, data_dir=tmp_path) as gw:
        answer = await gw.openai.chat.completions.create(
            model="mock-a/echo", messages=MESSAGES, extra_body=fail("mock-a", 0, timeout=True)
        )
    assert answer.model == "mock-b/echo"
    record = gw.last()
    timed_out, answered = record.attempts
    assert (timed_out.http_status, timed_out.error_code) == (504, "upstream_timeout")
    assert timed_out.input_tokens > 0
    assert timed_out.cost > 0
    assert record.input_tokens == timed_out.input_tokens + answered.input_tokens
    assert record.cost == pytest.approx(timed_out.cost + answered.cost)


COOLDOWN = """
name: lb
type: gateway-load-balancing-config
rules:
  - id: cooling
    type: priority-based-routing
    when: {models: [smart]}
    load_balance_targets:
      - target: mock-a/echo
        priority: 0
        retry_config: {attempts: 1}
        failure_tolerance:
          allowed_failures_per_minute: 1
          cooldown_period_minutes: 5
          failure_status_codes: [503]
      - target: mock-b/echo
        priority: 1
        retry_config: {attempts: 1}
        failure_tolerance:
          allowed_failures_per_minute: 0
          cooldown_period_minutes: 5
"""


async def test_cooldown_skips_a_failing_target_and_fails_fast_when_all_cool(
    tmp_path: Path,
) -> None:
    async with gateway(COOLDOWN, data_dir=tmp_path) as gw:
        for _ in range(2):  # two failures > one allowed per minute: mock-a cools down
            await gw.openai.chat.completions.create(
                model="smart", messages=MESSAGES, extra_body=fail("mock-a", 503)
            )
        await gw.openai.chat.completions.create(model="smart", messages=MESSAGES)
        assert [a.model for a in gw.last().attempts] == ["mock-b/echo"]
        with pytest.raises(openai.InternalServerError):  # mock-b fails: it cools down too
            await gw.openai.chat.completions.create(
                model="smart", messages=MESSAGES, extra_body=fail("mock-b", 500)
            )
        with pytest.raises(openai.APIStatusError) as caught:
            await gw.openai.chat.completions.create(model="smart", messages=MESSAGES)
    assert caught.value.status_code == 503
    assert "cooling" in caught.value.message
    assert "cooling" in str(caught.value.body)


async def test_upstream_retry_after_cools_the_target(tmp_path: Path) -> None:
    async with gateway(LB_PRIORITY, data_dir=tmp_path) as gw:
        await gw.openai.chat.completions.create(
            model="smart", messages=MESSAGES, extra_body=fail("mock-a", 429, retry_after=60)
        )
        await gw.openai.chat.completions.create(model="smart", messages=MESSAGES)
    assert [a.model for a in gw.last().attempts] == ["mock-b/echo"]


OVERRIDES = """
name: lb
type: gateway-load-balancing-config
rules:
  - id: overridden
    type: weight-based-routing
    when: {models: [smart]}
    load_balance_targets:
      - target: mock-a/echo
        weight: 100
        override_params: {mock: {status: 418, message: overridden}}
        fallback_status_codes: [500]
"""


async def test_override_params_reach_the_target(tmp_path: Path) -> None:
    async with gateway(OVERRIDES, data_dir=tmp_path) as gw:
        with pytest.raises(openai.APIStatusError, match="overridden") as caught:
            await gw.openai.chat.completions.create(model="smart", messages=MESSAGES)
    assert caught.value.status_code == 418
    assert gw.last().request_body is not None
    assert "418" not in gw.last().request_body


async def test_streaming_falls_back_before_the_first_byte(tmp_path: Path) -> None:
    async with gateway(LB_PRIORITY, data_dir=tmp_path) as gw:
        stream = await gw.openai.chat.completions.create(
            model="smart", messages=MESSAGES, stream=True, extra_body=fail("mock-a", 503)
        )
        chunks = [chunk async for chunk in stream]
        assert (
            "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hello there"
        )
        assert {c.model for c in chunks} == {"mock-b/echo"}
        # Every target failing before the first byte is an HTTP error, never 200 + error chunk.
        both = {"mock": {"accounts": {"mock-a": {"status": 503}, "mock-b": {"status": 503}}}}
        response = await gw.http.post(
            "/v1/chat/completions",
            json={"model": "smart", "messages": MESSAGES, "stream": True, **both},
            headers={"authorization": f"Bearer {gw.openai.api_key}"},
        )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_error"


async def test_a_cut_after_the_first_byte_is_not_retried(tmp_path: Path) -> None:
    async with gateway(LB_PRIORITY, data_dir=tmp_path) as gw:
        stream = await gw.openai.chat.completions.create(
            model="smart",
            messages=[{"role": "user", "content": "one two three"}],
            stream=True,
            extra_body={"mock": {"accounts": {"mock-a": {"cut_after": 1}}}},
        )
        with pytest.raises(openai.APIError):
            async for _ in stream:
                pass
    assert [a.model for a in gw.last().attempts] == ["mock-a/echo"]


async def test_embeddings_go_through_the_same_policies(tmp_path: Path) -> None:
    policies = """
name: fb
type: gateway-fallback-config
rules:
  - id: embed-fallback
    when: {models: [mock-a/embed]}
    fallback_models: [{target: mock-b/embed}]
"""
    async with gateway(policies, data_dir=tmp_path) as gw:
        raw = await gw.openai.embeddings.with_raw_response.create(
            model="mock-a/embed", input=["hi"], extra_body=fail("mock-a", 503)
        )
    assert raw.parse().model == "mock-b/embed"
    assert raw.headers["x-tfy-resolved-model"] == "mock-b/embed"
    assert [(a.model, a.http_status) for a in gw.last().attempts] == [
        ("mock-a/embed", 503),
        ("mock-b/embed", 200),
    ]


async def test_a_key_may_be_limited_to_a_virtual_model(tmp_path: Path) -> None:
    async with gateway(LB_PRIORITY, data_dir=tmp_path) as gw:
        async with GatewayClient(gw.target, api_key=ADMIN_KEY) as admin:
            created = await admin.keys.create("user:carol@example.com", models=["smart"])
        carol = gw.as_key(created.secret)
        assert (await carol.chat.completions.create(model="smart", messages=MESSAGES)).model
        with pytest.raises(openai.PermissionDeniedError):
            await carol.chat.completions.create(model="mock-a/echo", messages=MESSAGES)
