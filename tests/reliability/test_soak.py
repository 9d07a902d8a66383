"""A bounded soak of one `serve` process: streamed and whole answers, tool calls and their
follow-ups, through the mock provider and an OpenAI-wire upstream, in a loop; its memory and
descriptors are sampled as it goes and must stay flat, with no error of any kind.

GATEWAY_TEST_SOAK_SECONDS (default 30) runs it longer.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.fakes.upstream import FakeUpstream, run_fake_upstream
from tests.processes import gateway_process
from tests.reliability.calls import call, chat_body
from tests.reliability.process_env import KEY, TEXT, env_for, report, stored_total
from tests.reliability.procfs import (
    accepted,
    open_fds,
    rss_kib,
    settles,
    sqlite_kib,
    tcp_connections,
)

SOAK_SECONDS = float(os.environ.get("GATEWAY_TEST_SOAK_SECONDS", "30"))
WARM_UP_SECONDS = 3.0
CLIENTS = 8
SAMPLE_EVERY = 400
"""Calls between two samples of the gateway process."""
RSS_SLACK_KIB = 6 * 1024
"""Most the resident memory may grow over the soak's second half beyond the store's growth."""
PAGE_OVERHEAD = 1.1
"""SQLite's page cache costs a little more than the pages it holds."""
FD_SLACK = 4
"""Descriptors the gateway may hold over its warmed-up baseline, connections aside."""


@dataclass(frozen=True)
class Sample:
    """The gateway process at one moment of the soak."""

    at: float
    """Seconds into the soak."""
    rss_kib: int
    fds: int
    """Open descriptors but the connections: store, journal, listeners, loop, threads."""
    upstream: int
    """Connections to the upstream: the account's pool, at most one per concurrent call."""
    store_kib: int


def _config(fake: FakeUpstream) -> str:
    return f"""
name: mock-main
type: provider-account
provider: mock
models: [{{name: echo, price: {{input_per_million: 1.0, output_per_million: 2.0}}}}]
---
name: oai
type: provider-account
provider: openai
base_url: {fake.base_url}/v1
api_key_env: HOME
models: [{{name: soak-echo, price: {{input_per_million: 1.0, output_per_million: 2.0}}}}]
"""


def _body(number: int) -> dict[str, Any]:
    """Streamed and whole answers, tool calls and their follow-ups, from both providers."""
    model = "mock-main/echo" if number % 2 else "oai/soak-echo"
    kind = number // 2 % 4
    body = chat_body(model, f"{TEXT} {number}", stream=kind % 2 == 1, tools=kind >= 2)
    if kind == 3 and number % 3 == 0:  # the turn after a tool call: its result, then text
        function = {"name": "lookup", "arguments": '{"booking":"b1"}'}
        body["messages"] += [
            {
                "role": "assistant",
                "tool_calls": [{"id": "c0", "type": "function", "function": function}],
            },
            {"role": "tool", "tool_call_id": "c0", "content": "booked"},
        ]
    return body


async def _soak(url: str, seconds: float, sample: Callable[[float], None]) -> Counter[str]:
    """CLIENTS clients for `seconds`; `sample(seconds so far)` every SAMPLE_EVERY calls.
    Returns how many calls ended in each kind of result (only counts: a soak may be long)."""
    tally: Counter[str] = Counter()
    numbers = itertools.count()
    started = time.monotonic()

    async def client(http: httpx.AsyncClient) -> None:
        while time.monotonic() < started + seconds:
            number = next(numbers)
            result = await call(http, url, _body(number), key=KEY, request_id=f"soak-{number}")
            tally[result.kind] += 1
            if tally.total() % SAMPLE_EVERY == 0:
                sample(time.monotonic() - started)

    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=CLIENTS)) as http:
        await asyncio.gather(*(client(http) for _ in range(CLIENTS)))
    return tally


@pytest.mark.timeout(SOAK_SECONDS + 60)
def test_soak_keeps_memory_and_descriptors_flat(tmp_path: Path) -> None:
    samples: list[Sample] = []
    with (
        run_fake_upstream() as fake_upstream,  # its own: it forgets what it saw as it goes
        gateway_process(
            "serve", env_for(tmp_path, _config(fake_upstream)), tmp_path / "serve.stderr"
        ) as running,
    ):
        url = running.openai_base_url + "/chat/completions"
        pid, port = running.process.pid, urlsplit(url).port or 0
        upstream_port = urlsplit(fake_upstream.base_url).port or 0
        store = tmp_path / "data" / "gateway.db"

        def fds_and_upstream() -> tuple[int, int]:
            held = tcp_connections(pid)
            clients = sum(1 for c in held if c.local_port == port)
            upstream = sum(1 for c in held if c.remote_port == upstream_port)
            return open_fds(pid) - clients - upstream, upstream

        def sample(at: float) -> None:
            fds, upstream = fds_and_upstream()
            samples.append(Sample(at, rss_kib(pid), fds, upstream, sqlite_kib(store)))
            fake_upstream.forget()

        # The warm-up opens what stays open: upstream connections, store, journal.
        warm = asyncio.run(_soak(url, WARM_UP_SECONDS, lambda _: None))
        baseline_fds, _ = fds_and_upstream()
        tally = asyncio.run(_soak(url, SOAK_SECONDS, sample))
        clients_left = settles(lambda: accepted(pid, port), lambda n: n == 0, 10)
        final_fds, _ = fds_and_upstream()
        calls = warm.total() + tally.total()
        stored = settles(lambda: stored_total(running), lambda n: n >= calls, 10)
    second_half = [s for s in samples if s.at >= SOAK_SECONDS / 2]
    middle, last = second_half[0], second_half[-1]
    # SQLite's page cache (up to 16 MiB for the log writer) keeps the pages the writer adds,
    # so resident memory grows with the store until that cache is full. Growth beyond the
    # store's is the gateway's own.
    rss_growth = max(s.rss_kib for s in second_half) - middle.rss_kib
    store_growth = last.store_kib - middle.store_kib
    report(
        "soak",
        seconds=SOAK_SECONDS,
        calls=tally.total(),
        per_second=round(tally.total() / SOAK_SECONDS),
        outcomes=dict(tally),
        warm_up=dict(warm),
        records=stored,
        rss_mib_by_tenth=[
            round(samples[len(samples) * i // 10].rss_kib / 1024, 1) for i in range(10)
        ],
        rss_mib_last=round(last.rss_kib / 1024, 1),
        second_half_rss_growth_mib=round(rss_growth / 1024, 1),
        second_half_store_growth_mib=round(store_growth / 1024, 1),
        fds_baseline_max_final=(baseline_fds, max(s.fds for s in samples), final_fds),
        upstream_connections_max=max(s.upstream for s in samples),
    )
    assert set(warm) == set(tally) == {"answered"}  # no 5xx, no error of any kind
    assert stored == calls
    assert clients_left == 0
    assert max(s.fds for s in samples) <= baseline_fds + FD_SLACK
    assert final_fds <= baseline_fds + FD_SLACK
    assert max(s.upstream for s in samples) <= CLIENTS
    assert rss_growth < PAGE_OVERHEAD * store_growth + RSS_SLACK_KIB
