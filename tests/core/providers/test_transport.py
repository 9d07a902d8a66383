"""The upstream seam: SSE parsing, the error table, timeouts, and closing streams early."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from core.errors import UpstreamFailed, UpstreamRejected, UpstreamStreamCut, UpstreamTimeout
from core.providers.anthropic import AnthropicProvider
from core.providers.openai import OpenAIProvider
from core.providers.sse import SseEvent, SseReader
from core.providers.transport import HttpUpstream
from core.providers.upstream_errors import status_error, transport_error
from gateway.v1.chat_pb2 import ChatDelta
from tests.core.providers.support import API_KEY, account, chat_call
from tests.fakes.upstream import FakeUpstream, closed_port_url

LABEL = "acct/model-x"


class _TooLarge(Exception):
    pass


def _reader(chunks: list[bytes], max_event_bytes: int = 1024) -> SseReader:
    pending = list(chunks)

    async def read() -> bytes:
        return pending.pop(0) if pending else b""

    return SseReader(
        pending.pop(0) if pending else b"",
        read,
        max_event_bytes=max_event_bytes,
        on_error=lambda exc: exc,
        too_large=_TooLarge,
    )


async def _events(chunks: list[bytes]) -> list[SseEvent]:
    return [event async for event in _reader(chunks)]


async def test_sse_joins_data_lines_and_keeps_event_names() -> None:
    stream = b'event: message_start\ndata: {"a":\ndata: 1}\n\n: keep-alive\n\ndata: [DONE]\n\n'
    assert await _events([stream]) == [("message_start", '{"a":\n1}'), (None, "[DONE]")]


async def test_sse_handles_crlf_and_events_split_across_chunks() -> None:
    chunks = [b"da", b"ta: one\r", b"\n\r\nevent: e\r\ndata:two\r\n", b"\r\n"]
    assert await _events(chunks) == [(None, "one"), ("e", "two")]


async def test_sse_drops_an_event_without_its_blank_line() -> None:
    assert await _events([b"data: whole\n\ndata: half"]) == [(None, "whole")]


async def test_sse_refuses_a_line_over_the_limit_before_it_ends() -> None:
    # The line never ends: the reader gives up once it holds more than the limit.
    reader = _reader([b"data: ok\n\n", b"data: " + b"x" * 600, b"x" * 600, b"x" * 600])
    assert await anext(reader) == (None, "ok")
    with pytest.raises(_TooLarge):
        await anext(reader)


async def test_sse_refuses_an_event_whose_data_lines_add_up_over_the_limit() -> None:
    lines = b"".join(b"data: " + b"y" * 100 + b"\n" for _ in range(11))
    with pytest.raises(_TooLarge):
        await _events([lines + b"\n"])
    # Ten such lines fit, and the count starts again with the next event.
    ten = b"".join(b"data: " + b"y" * 100 + b"\n" for _ in range(10)) + b"\n"
    assert len(await _events([ten, ten, ten])) == 3


async def test_stream_error_status_quotes_the_provider_message(
    fake_upstream: FakeUpstream,
) -> None:
    upstream = HttpUpstream(
        account("openai", fake_upstream.base_url), base_url=f"{fake_upstream.base_url}/v1"
    )
    body = {"model": "fail-429", "messages": [{"role": "user", "content": "x"}], "stream": True}
    try:
        with pytest.raises(UpstreamRejected) as caught:
            async with upstream.stream_sse("/chat/completions", body, label=LABEL):
                pass
    finally:
        await upstream.aclose()
    assert caught.value.upstream_status == 429
    assert (
        caught.value.message
        == f"{LABEL}: upstream answered HTTP 429: fake failure 429 for fail-429"
    )


def test_status_table() -> None:
    rejected = status_error(404, b'{"error": {"message": "no such model"}}', label=LABEL)
    assert isinstance(rejected, UpstreamRejected)
    assert rejected.upstream_status == 404
    assert rejected.http_code() == 404
    assert "no such model" in rejected.message
    assert "HTTP 404" in rejected.message
    assert LABEL in rejected.message
    failed = status_error(503, b"<html>" + b"x" * 1000, label=LABEL)
    assert isinstance(failed, UpstreamFailed)
    assert failed.message.endswith("...")
    assert len(failed.message) < 400
    assert "(empty body)" in status_error(500, b"", label=LABEL).message
    assert "plain" in status_error(400, b'{"error": "plain"}', label=LABEL).message


def test_status_error_redacts_secrets() -> None:
    body = b'{"error": {"message": "Incorrect API key provided: sk-live-123"}}'
    error = status_error(401, body, label=LABEL, secrets=["sk-live-123"])
    assert "sk-live-123" not in error.message
    assert "***" in error.message


@pytest.mark.parametrize(
    ("failure", "mid_stream", "expected"),
    [
        (aiohttp.SocketTimeoutError("read"), False, UpstreamTimeout),
        (aiohttp.SocketTimeoutError("read"), True, UpstreamTimeout),
        (TimeoutError(), True, UpstreamTimeout),
        (aiohttp.ServerDisconnectedError(), False, UpstreamFailed),
        (aiohttp.ServerDisconnectedError(), True, UpstreamStreamCut),
        (aiohttp.ClientPayloadError("not completed"), True, UpstreamStreamCut),
        (ConnectionResetError("reset"), True, UpstreamStreamCut),
    ],
)
def test_transport_table(failure: Exception, mid_stream: bool, expected: type[Exception]) -> None:
    error = transport_error(failure, label=LABEL, mid_stream=mid_stream, timed_out="was slow")
    assert type(error) is expected
    assert error is not None
    assert error.message.startswith(f"{LABEL}: upstream ")
    if expected is UpstreamTimeout:
        assert error.message == f"{LABEL}: upstream was slow"


def test_transport_table_leaves_bugs_alone() -> None:
    assert transport_error(KeyError("x"), label=LABEL, mid_stream=False, timed_out="") is None


async def test_refused_connection_is_upstream_failed() -> None:
    provider = OpenAIProvider(account("openai", f"{closed_port_url()}/v1"), API_KEY)
    try:
        with pytest.raises(UpstreamFailed) as caught:
            [event async for event in provider.chat(chat_call("gpt-x", stream=False))]
    finally:
        await provider.aclose()
    assert caught.value.message.startswith("acct/gpt-x: upstream connection failed")
    assert API_KEY not in caught.value.message


async def test_closing_a_stream_early_closes_the_upstream_connection(
    openai: OpenAIProvider, fake_upstream: FakeUpstream
) -> None:
    events = openai.chat(chat_call("early-close-hold-3", stream=True))
    first = await anext(events)
    assert isinstance(first, ChatDelta)
    assert fake_upstream.client_disconnects("early-close-hold-3") == 0
    await events.aclose()  # type: ignore[attr-defined]
    assert await fake_upstream.disconnected("early-close-hold-3")


async def test_cancelling_the_consumer_closes_the_upstream_connection(
    openai: OpenAIProvider, fake_upstream: FakeUpstream
) -> None:
    got_first = asyncio.Event()

    async def consume() -> None:
        async for _ in openai.chat(chat_call("cancelled-hold-2", stream=True)):
            got_first.set()

    task = asyncio.create_task(consume())
    await got_first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await fake_upstream.disconnected("cancelled-hold-2")


@pytest.mark.parametrize("stream", [False, True])
async def test_one_pooled_connection_serves_sequential_calls(
    openai: OpenAIProvider, anthropic: AnthropicProvider, fake_upstream: FakeUpstream, stream: bool
) -> None:
    # A finished stream is read to its end, so its connection goes back to the pool.
    for provider, model in ((openai, f"pooled-oa-{stream}"), (anthropic, f"pooled-an-{stream}")):
        for _ in range(3):
            [e async for e in provider.chat(chat_call(model, stream=stream))]
        peers = {r.peer for r in fake_upstream.requests_for(model)}
        assert len(peers) == 1, model
        assert fake_upstream.client_disconnects(model) == 0
