"""The transport's bounds, over real HTTP against the fake upstream: each timeout strikes
where it is documented to, and the size cap stops reading as soon as it is passed."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from core.config.loader import ConfigError, parse_config
from core.errors import GatewayError, UpstreamFailed, UpstreamTimeout
from core.providers.openai import OpenAIProvider
from gateway.v1.chat_pb2 import ChatDelta
from tests.core.providers.support import API_KEY, account, chat_call, collect
from tests.fakes.upstream import FakeUpstream, unanswered_connect_url

CAP = 100_000
"""`max_response_bytes` of the size tests."""


@asynccontextmanager
async def openai_at(base_url: str, **fields: Any) -> AsyncIterator[OpenAIProvider]:
    provider = OpenAIProvider(account("openai", f"{base_url}/v1", **fields), API_KEY)
    try:
        yield provider
    finally:
        await provider.aclose()


async def failure(
    provider: OpenAIProvider, model: str, *, stream: bool
) -> tuple[GatewayError, list[ChatDelta]]:
    """The error a call ends with, and the deltas that reached the caller before it."""
    deltas: list[ChatDelta] = []

    async def run() -> None:
        async for event in provider.chat(chat_call(model, stream=stream)):
            assert isinstance(event, ChatDelta), "a failing call must not finish"
            deltas.append(event)

    with pytest.raises(GatewayError) as caught:
        await run()
    return caught.value, deltas


@pytest.mark.parametrize(
    ("stream", "said"),
    [(False, "did not answer within 0.2 s"), (True, "sent nothing within 0.2 s")],
)
async def test_a_slow_answer_times_out_at_timeout_seconds(
    fake_upstream: FakeUpstream, stream: bool, said: str
) -> None:
    async with openai_at(fake_upstream.base_url, timeout_seconds=0.2) as provider:
        error, _ = await failure(provider, "slow-5000", stream=stream)
    assert isinstance(error, UpstreamTimeout)
    assert error.message == f"acct/slow-5000: upstream {said} (timeout_seconds)"
    assert error.http_code() == 504


async def test_a_trickling_answer_times_out_at_timeout_seconds(
    fake_upstream: FakeUpstream,
) -> None:
    # A byte every 20 ms would keep a per-read timeout happy for minutes.
    async with openai_at(fake_upstream.base_url, timeout_seconds=0.3) as provider:
        started = time.monotonic()
        error, _ = await failure(provider, "trickle-20", stream=False)
        elapsed = time.monotonic() - started
    assert isinstance(error, UpstreamTimeout)
    assert "did not answer within 0.3 s (timeout_seconds)" in error.message
    assert 0.3 <= elapsed < 2.0
    assert await fake_upstream.disconnected("trickle-20")


async def test_a_stream_without_a_first_byte_times_out_at_timeout_seconds(
    fake_upstream: FakeUpstream,
) -> None:
    # Headers come at once, then nothing: the idle bound (30 s) is not the one that applies.
    fields = {"timeout_seconds": 0.2, "stream_idle_timeout_seconds": 30}
    async with openai_at(fake_upstream.base_url, **fields) as provider:
        error, deltas = await failure(provider, "firstbyte-hold-0", stream=True)
    assert isinstance(error, UpstreamTimeout)
    assert (
        error.message
        == "acct/firstbyte-hold-0: upstream sent nothing within 0.2 s (timeout_seconds)"
    )
    assert deltas == []


async def test_a_stalled_stream_times_out_at_stream_idle_timeout_seconds(
    fake_upstream: FakeUpstream,
) -> None:
    fields = {"timeout_seconds": 30, "stream_idle_timeout_seconds": 0.2}
    async with openai_at(fake_upstream.base_url, **fields) as provider:
        error, deltas = await failure(provider, "stall-hold-2", stream=True)
    assert isinstance(error, UpstreamTimeout)
    assert error.message == (
        "acct/stall-hold-2: upstream stream stalled: nothing for 0.2 s "
        "(stream_idle_timeout_seconds)"
    )
    assert error.http_code() == 504
    assert len(deltas) == 2  # what arrived before the stall still reached the caller
    assert await fake_upstream.disconnected("stall-hold-2")


async def test_a_stream_outlasts_timeout_seconds_while_it_keeps_sending(
    fake_upstream: FakeUpstream,
) -> None:
    # Six gaps of 100 ms: the stream takes twice timeout_seconds, each gap is under the idle bound.
    fields = {"timeout_seconds": 0.25, "stream_idle_timeout_seconds": 5}
    async with openai_at(fake_upstream.base_url, **fields) as provider:
        started = time.monotonic()
        _, result = await collect(provider, chat_call("gap-100", stream=True))
    assert time.monotonic() - started > 0.25
    assert result.choices[0].message.text == "echo: hi there"


async def test_the_idle_bound_ends_with_its_stream(fake_upstream: FakeUpstream) -> None:
    # The idle timer lives on the pooled connection: the next call on it, slower than the
    # idle bound but within timeout_seconds, must not inherit it.
    fields = {"timeout_seconds": 5, "stream_idle_timeout_seconds": 0.2}
    async with openai_at(fake_upstream.base_url, **fields) as provider:
        await collect(provider, chat_call("reuse-idle", stream=True))
        _, result = await collect(provider, chat_call("reuse-idle-slow-500", stream=False))
    assert result.choices[0].message.text == "echo: hi there"
    assert len({r.peer for r in fake_upstream.requests_for("reuse-idle")}) == 1


@pytest.mark.parametrize("stream", [False, True])
async def test_connecting_times_out_at_connect_timeout_seconds(stream: bool) -> None:
    with unanswered_connect_url() as url:
        fields = {"connect_timeout_seconds": 0.2, "timeout_seconds": 5}
        async with openai_at(url, **fields) as provider:
            error, _ = await failure(provider, "m", stream=stream)
    assert isinstance(error, UpstreamTimeout)
    assert error.message == (
        "acct/m: upstream could not be connected to within 0.2 s (connect_timeout_seconds)"
    )


@pytest.mark.parametrize("model", ["big-50000000", "biglen-50000000"])
async def test_an_oversized_answer_is_refused_as_soon_as_the_cap_is_passed(
    fake_upstream: FakeUpstream, model: str
) -> None:
    # 50 MB, chunked or announced by Content-Length: the fake sees the gateway leave early.
    async with openai_at(fake_upstream.base_url, max_response_bytes=CAP) as provider:
        error, _ = await failure(provider, model, stream=False)
    assert isinstance(error, UpstreamFailed)
    assert error.http_code() == 502
    assert error.message.startswith(
        f"acct/{model}: upstream answer is over max_response_bytes ({CAP} bytes)"
    )
    assert await fake_upstream.disconnected(model)


async def test_an_answer_under_the_cap_passes(fake_upstream: FakeUpstream) -> None:
    async with openai_at(fake_upstream.base_url, max_response_bytes=CAP) as provider:
        _, result = await collect(provider, chat_call("big-90000", stream=False))
    assert result.choices[0].message.text == "echo: hi there"


async def test_a_compressed_answer_is_capped_after_inflating(fake_upstream: FakeUpstream) -> None:
    # A few KB of gzip on the wire, 3 MB once inflated.
    async with openai_at(fake_upstream.base_url, max_response_bytes=CAP) as provider:
        error, _ = await failure(provider, "gzip-big-3000000", stream=False)
    assert isinstance(error, UpstreamFailed)
    assert "answer is over max_response_bytes" in error.message


async def test_an_oversized_stream_event_is_refused(fake_upstream: FakeUpstream) -> None:
    async with openai_at(fake_upstream.base_url, max_response_bytes=CAP) as provider:
        error, _ = await failure(provider, "bigevent-50000000", stream=True)
    assert isinstance(error, UpstreamFailed)
    assert error.message.startswith(
        f"acct/bigevent-50000000: upstream stream event is over max_response_bytes ({CAP} bytes)"
    )
    assert await fake_upstream.disconnected("bigevent-50000000")


@pytest.mark.parametrize(
    ("model", "stream"), [("mem-big-50000000", False), ("mem-bigevent-50000000", True)]
)
async def test_memory_held_for_an_oversized_answer_stays_near_the_cap(
    fake_upstream: FakeUpstream, model: str, stream: bool
) -> None:
    # Before the cap, 50 MB answers were buffered whole (RSS +235 MB). The fake writes one
    # shared 64 KiB block over and over, so what is traced here is the gateway's side.
    cap = 1024 * 1024
    async with openai_at(fake_upstream.base_url, max_response_bytes=cap) as provider:
        tracemalloc.start()
        try:
            error, _ = await failure(provider, model, stream=stream)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert isinstance(error, UpstreamFailed)
    assert peak < 4 * cap


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timeout_seconds", 0),
        ("stream_idle_timeout_seconds", -1),
        ("connect_timeout_seconds", 0),
        ("max_response_bytes", 10),
    ],
)
def test_a_bound_out_of_range_is_refused_at_load_naming_the_field(field: str, value: int) -> None:
    text = f"name: a\ntype: provider-account\nprovider: openai\n{field}: {value}\nmodels: [{{name: m}}]\n"
    with pytest.raises(ConfigError) as raised:
        parse_config(text, source="gw.yaml")
    assert field in str(raised.value)
    assert "gw.yaml" in str(raised.value)
