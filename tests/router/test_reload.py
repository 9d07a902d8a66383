"""Hot reload: a valid change applies to new calls, in-flight ones finish on the old config;
an invalid change is refused with a logged error and the last good config keeps serving."""

from __future__ import annotations

import logging
from pathlib import Path

import openai
import pytest

from gateway.v1 import chat_pb2
from gateway_client import GatewayClient
from tests.router.conftest import ACCOUNTS, ADMIN_KEY, MESSAGES, gateway

LIMIT_ONE = """
name: limits
type: gateway-rate-limiting-config
rules:
  - {id: one, limit_to: 1, unit: requests_per_minute}
"""
VIRTUAL = """
name: lb
type: gateway-load-balancing-config
rules:
  - id: smart
    type: weight-based-routing
    when: {models: [smart]}
    load_balance_targets: [{target: mock-b/echo, weight: 100}]
"""


async def test_valid_change_applies_without_dropping_in_flight_calls(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    async with gateway(data_dir=tmp_path, config_path=path) as gw:
        assert gw.core.reloader is not None
        words = "one two three four five six"
        params = chat_pb2.ChatParams(
            model="mock-c/echo",
            messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, text=words)],
        )
        async with (
            GatewayClient(gw.target, api_key=ADMIN_KEY) as client,
            client.stream_route(params) as stream,
        ):
            first = await anext(stream)  # in flight over gRPC: the rest comes 20 ms a word
            # Drops mock-c: new calls cannot reach it, the stream already running finishes.
            accounts = ACCOUNTS.replace("name: mock-c", "name: mock-d")
            path.write_text(accounts + "---\n" + LIMIT_ONE + "---\n" + VIRTUAL, encoding="utf-8")
            outcome = await gw.core.reloader.reload()
            assert outcome is not None
            assert outcome.error is None
            assert outcome.version == 2
            rest = [event async for event in stream]
        assert first.delta.content + "".join(e.delta.content for e in rest[:-1]) == words
        assert rest[-1].result.choices[0].message.text == words
        with pytest.raises(openai.NotFoundError):
            await gw.openai.chat.completions.create(model="mock-c/echo", messages=MESSAGES)
        answer = await gw.openai.chat.completions.create(model="smart", messages=MESSAGES)
        assert answer.model == "mock-b/echo"
        with pytest.raises(openai.RateLimitError, match="one"):
            await gw.openai.chat.completions.create(model="smart", messages=MESSAGES)
        assert await gw.core.reloader.reload() is None  # unchanged file: nothing to do


async def test_invalid_change_is_refused_and_the_last_good_config_serves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "gateway.yaml"
    async with gateway(VIRTUAL, data_dir=tmp_path, config_path=path) as gw:
        assert gw.core.reloader is not None
        broken = VIRTUAL.replace("weight: 100", "weight: 90")
        path.write_text(ACCOUNTS + "---\n" + broken, encoding="utf-8")
        with caplog.at_level(logging.ERROR, logger="core.router.reload"):
            outcome = await gw.core.reloader.reload()
        assert outcome is not None
        assert outcome.version == 1
        assert outcome.error is not None
        for part in (str(path), "name=lb", "rules[0]", "100"):
            assert part in outcome.error
        assert outcome.error in caplog.text
        answer = await gw.openai.chat.completions.create(model="smart", messages=MESSAGES)
        assert answer.model == "mock-b/echo"
