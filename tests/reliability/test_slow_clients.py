"""Slow and idle clients do not hold up the others: a `serve` process with 50 idle
connections, readers that leave a long stream unread and senders that trickle a request
(slowloris), beside normal calls whose latency is compared with a quiet baseline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from tests.processes import GatewayProcess, gateway_process
from tests.reliability.calls import Result, call, chat_body, kinds
from tests.reliability.process_env import KEY, TEXT, env_for, report
from tests.reliability.procfs import accepted, settles, unsent_bytes
from tests.reliability.slow_clients import Connection, SlowReader, SlowSender, connect, dechunk

CONFIG = """
name: mock-main
type: provider-account
provider: mock
models: [{name: echo}]
---
name: mock-long
type: provider-account
provider: mock
models: [{name: echo}]
mock: {output_tokens: 3000}
"""
LONG_ANSWER_TOKENS = 3000
IDLE = 50
SLOW_READERS = 3
SLOW_SENDERS = 4
"""Half stall inside the headers (slowloris), half inside the body."""
READER_BUFFERS = 64 * 1024
"""More than a slow reader's socket and stream buffers can hold unread."""
NORMAL_CALLS = 200
NORMAL_CLIENTS = 4
CHAT_PATH = "/api/inference/openai/v1/chat/completions"


@dataclass
class Seen:
    """What one run observed."""

    baseline: list[Result]
    """Normal calls on a quiet gateway."""
    stressed: list[Result]
    """The same calls beside the slow and idle clients."""
    connections: tuple[int, int, int]
    """Client connections the gateway held: before, with the slow clients, after them."""
    read: list[int]
    """Bytes each slow reader had read while the normal calls ran."""
    unsent: list[int]
    """Bytes then waiting in the gateway's socket to each slow reader."""
    streams: list[bytes]
    """Each slow reader's whole answer, read at last."""
    sent: list[tuple[int, bytes]]
    """Each slow sender's answer once its request was complete."""


async def _normal_calls(
    url: str, prefix: str, after_each: Callable[[], Awaitable[None]] | None = None
) -> list[Result]:
    """NORMAL_CALLS calls from NORMAL_CLIENTS clients; `after_each()` after each one."""
    numbers = iter(range(NORMAL_CALLS))
    results: list[Result] = []

    async def client(http: httpx.AsyncClient) -> None:
        for number in numbers:
            body = chat_body("mock-main/echo", TEXT, stream=number % 2 == 1)
            results.append(await call(http, url, body, key=KEY, request_id=f"{prefix}-{number}"))
            if after_each is not None:
                await after_each()

    async with httpx.AsyncClient(timeout=10) as http:
        await asyncio.gather(*(client(http) for _ in range(NORMAL_CLIENTS)))
    return results


async def _idle_connections(url: str) -> list[Connection]:
    """IDLE open connections: half after one keep-alive request, half that never sent a byte."""
    connections = [await connect(url) for _ in range(IDLE)]
    for connection in connections[: IDLE // 2]:
        await connection.send(connection.request_bytes("GET", "/healthz", headers={}))
        status, _ = await connection.read_response()
        assert status == 200
    return connections


async def _beside_slow_clients(running: GatewayProcess) -> Seen:
    url = running.openai_base_url + "/chat/completions"
    pid, port = running.process.pid, urlsplit(url).port or 0

    def held() -> int:
        return accepted(pid, port)

    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    baseline = await _normal_calls(url, "baseline")
    before = settles(held, lambda n: n == 0, 10)  # the baseline's clients have gone
    idle = await _idle_connections(url)
    long_stream = orjson.dumps(chat_body("mock-long/echo", "go", stream=True))
    readers = [
        await SlowReader.start(url, CHAT_PATH, {**headers, "x-request-id": f"r-{i}"}, long_stream)
        for i in range(SLOW_READERS)
    ]
    short = orjson.dumps(chat_body("mock-main/echo", TEXT))
    senders = [
        await SlowSender.start(
            url, CHAT_PATH, {**headers, "x-request-id": f"s-{i}"}, short, in_headers=i % 2 == 0
        )
        for i in range(SLOW_SENDERS)
    ]
    opened = IDLE + SLOW_READERS + SLOW_SENDERS
    during = settles(held, lambda n: n >= opened, 10)  # accepted, all of them

    async def step_slow_clients() -> None:  # a few bytes each, once per normal call
        for reader in readers:
            await reader.step()
        for sender in senders:
            await sender.step()

    stressed = await _normal_calls(url, "stressed", step_slow_clients)
    read = [len(reader.received) for reader in readers]
    unsent = [unsent_bytes(port, reader.connection.local_port) for reader in readers]
    streams = [dechunk(await reader.finish()) for reader in readers]
    sent = [await sender.finish() for sender in senders]
    for connection in idle:
        await connection.close()
    after = settles(held, lambda n: n == 0, 10)
    return Seen(baseline, stressed, (before, during, after), read, unsent, streams, sent)


def _percentile(results: list[Result], fraction: float) -> float:
    seconds = sorted(r.seconds for r in results)
    return seconds[min(len(seconds) - 1, int(fraction * len(seconds)))]


def _latencies_ms(results: list[Result]) -> list[int]:
    """p50, p95 and max."""
    return [round(1000 * _percentile(results, f)) for f in (0.5, 0.95, 1)]


@pytest.mark.timeout(90)
def test_slow_and_idle_clients_do_not_hold_up_normal_calls(tmp_path: Path) -> None:
    env = env_for(tmp_path, CONFIG)
    with gateway_process("serve", env, tmp_path / "serve.stderr") as running:
        seen = asyncio.run(_beside_slow_clients(running))
    report(
        "slow-clients",
        baseline=dict(kinds(seen.baseline)),
        baseline_p50_p95_max_ms=_latencies_ms(seen.baseline),
        stressed=dict(kinds(seen.stressed)),
        stressed_p50_p95_max_ms=_latencies_ms(seen.stressed),
        connections_before_during_after=seen.connections,
        slow_readers_read_bytes=seen.read,
        gateway_unsent_bytes=seen.unsent,
        answer_bytes=[len(s) for s in seen.streams],
        slow_senders=[status for status, _ in seen.sent],
    )
    assert kinds(seen.baseline) == kinds(seen.stressed) == {"answered": NORMAL_CALLS}
    assert seen.connections == (0, IDLE + SLOW_READERS + SLOW_SENDERS, 0)
    # The readers really held the gateway up: part of each answer was still inside it, not
    # yet handed to the kernel, while the normal calls went through.
    for read, unsent, stream in zip(seen.read, seen.unsent, seen.streams, strict=True):
        assert read + unsent + READER_BUFFERS < len(stream)
    # Normal calls kept a normal pace: within a few times the quiet baseline, never seconds.
    assert _percentile(seen.stressed, 0.5) < 3 * _percentile(seen.baseline, 0.5) + 0.05
    assert _percentile(seen.stressed, 1) < 1.0
    # And the slow clients were served in full once they caught up.
    for stream in seen.streams:
        assert stream.endswith(b"data: [DONE]\n\n")
        assert stream.count(b'"content":"') >= LONG_ANSWER_TOKENS
    for status, answer in seen.sent:
        assert status == 200
        assert orjson.loads(answer)["choices"][0]["message"]["content"] == TEXT
