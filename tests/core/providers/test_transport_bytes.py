"""`post_bytes` and `stream_bytes` (signed bodies sent as given) under the same bounds as
`post_json` and `stream_sse`, over real HTTP against the fake upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest

from core.errors import GatewayError, UpstreamFailed, UpstreamRejected, UpstreamTimeout
from core.providers.transport import HttpUpstream
from tests.core.providers.support import account
from tests.fakes.upstream import FakeUpstream

LABEL = "acct/model-x"
PATH = "/chat/completions"


def _body(model: str, *, stream: bool) -> bytes:
    return orjson.dumps(
        {"model": model, "messages": [{"role": "user", "content": "a b c"}], "stream": stream}
    )


@asynccontextmanager
async def upstream_at(fake: FakeUpstream, **fields: Any) -> AsyncIterator[HttpUpstream]:
    upstream = HttpUpstream(
        account("openai", fake.base_url, **fields), base_url=f"{fake.base_url}/v1"
    )
    try:
        yield upstream
    finally:
        await upstream.aclose()


async def test_post_bytes_sends_the_bytes_and_headers_as_given(fake_upstream: FakeUpstream) -> None:
    data = _body("bytes-echo", stream=False)
    async with upstream_at(fake_upstream) as upstream:
        answer = await upstream.post_bytes(PATH, data, label=LABEL, headers={"x-signed": "yes"})
    assert answer["choices"][0]["message"]["content"] == "echo: a b c"
    sent = fake_upstream.last_request("bytes-echo")
    assert sent.headers["x-signed"] == "yes"
    assert sent.headers["content-type"] == "application/json"


async def test_stream_bytes_yields_the_raw_body(fake_upstream: FakeUpstream) -> None:
    async with (
        upstream_at(fake_upstream) as upstream,
        upstream.stream_bytes(PATH, _body("bytes-stream", stream=True), label=LABEL) as chunks,
    ):
        raw = b"".join([chunk async for chunk in chunks])
    assert raw.startswith(b"data: ")
    assert raw.rstrip().endswith(b"data: [DONE]")
    assert fake_upstream.client_disconnects("bytes-stream") == 0


async def _error(run: Any) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        await run()
    return caught.value


@pytest.mark.parametrize(
    ("stream", "said"),
    [(False, "did not answer within 0.2 s"), (True, "sent nothing within 0.2 s")],
)
async def test_timeout_seconds_bounds_both(
    fake_upstream: FakeUpstream, stream: bool, said: str
) -> None:
    model = f"bytes-slow-5000-{stream}"
    async with upstream_at(fake_upstream, timeout_seconds=0.2) as upstream:

        async def run() -> None:
            if not stream:
                await upstream.post_bytes(PATH, _body(model, stream=False), label=LABEL)
                return
            async with upstream.stream_bytes(PATH, _body(model, stream=True), label=LABEL):
                pass

        error = await _error(run)
    assert isinstance(error, UpstreamTimeout)
    assert error.message == f"{LABEL}: upstream {said} (timeout_seconds)"


async def test_a_stalled_byte_stream_times_out_at_the_idle_bound(
    fake_upstream: FakeUpstream,
) -> None:
    model = "bytes-stall-hold-2"
    received: list[bytes] = []
    async with upstream_at(
        fake_upstream, timeout_seconds=30, stream_idle_timeout_seconds=0.2
    ) as upstream:

        async def run() -> None:
            async with upstream.stream_bytes(
                PATH, _body(model, stream=True), label=LABEL
            ) as chunks:
                async for chunk in chunks:
                    received.append(chunk)

        error = await _error(run)
    assert isinstance(error, UpstreamTimeout)
    assert "stream stalled: nothing for 0.2 s (stream_idle_timeout_seconds)" in error.message
    assert received  # the bytes before the stall reached the caller
    assert await fake_upstream.disconnected(model)


async def test_leaving_a_byte_stream_early_closes_the_connection(
    fake_upstream: FakeUpstream,
) -> None:
    model = "bytes-early-hold-3"
    async with (
        upstream_at(fake_upstream) as upstream,
        upstream.stream_bytes(PATH, _body(model, stream=True), label=LABEL) as chunks,
    ):
        assert await anext(chunks)
    assert await fake_upstream.disconnected(model)


@pytest.mark.parametrize("stream", [False, True])
async def test_error_answers_go_through_the_status_error_hook(
    fake_upstream: FakeUpstream, stream: bool
) -> None:
    seen: list[tuple[int, bytes]] = []

    def status_error_of(status: int, body: bytes, **_: Any) -> GatewayError:
        seen.append((status, body))
        return UpstreamFailed("read by the family")

    model = f"bytes-fail-429-{stream}"
    upstream = HttpUpstream(
        account("openai", fake_upstream.base_url),
        base_url=f"{fake_upstream.base_url}/v1",
        status_error_of=status_error_of,
    )
    try:

        async def run() -> None:
            if not stream:
                await upstream.post_bytes(PATH, _body(model, stream=False), label=LABEL)
                return
            async with upstream.stream_bytes(PATH, _body(model, stream=True), label=LABEL):
                pass

        error = await _error(run)
    finally:
        await upstream.aclose()
    assert error.message == "read by the family"
    assert seen
    assert seen[0][0] == 429
    assert b"fake failure 429" in seen[0][1]


async def test_the_default_status_error_is_the_shared_table(fake_upstream: FakeUpstream) -> None:
    async with upstream_at(fake_upstream) as upstream:
        with pytest.raises(UpstreamRejected) as caught:
            await upstream.post_bytes(PATH, _body("bytes-fail-400", stream=False), label=LABEL)
    assert caught.value.upstream_status == 400
