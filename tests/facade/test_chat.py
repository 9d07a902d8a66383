"""POST /chat/completions: JSON answers, SSE streams byte for byte, and cancellation."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from starlette.types import Message

from facade.openai import PREFIXES
from tests.clients.fake_core import REQUEST_ID, FakeCore
from tests.facade.conftest import API_KEY

CHAT = "/v1/chat/completions"
USER = [{"role": "user", "content": "one two three"}]


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_answer_under_every_prefix(
    http: httpx.AsyncClient, core: FakeCore, prefix: str
) -> None:
    response = await http.post(
        f"{prefix}/chat/completions",
        json={"model": "echo", "messages": USER, "temperature": 0.5, "vendor_flag": {"x": 1}},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-tfy-resolved-model"] == "mock-main/echo"
    assert response.headers["x-request-id"] == REQUEST_ID
    body = response.json()
    assert body["id"] == f"chatcmpl-{REQUEST_ID}"
    assert body["object"] == "chat.completion"
    message = body["choices"][0]["message"]
    assert (message["role"], message["content"]) == ("assistant", "one two three")
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] == 6
    params = core.last.request.params
    assert params.temperature == 0.5
    assert params.extras["vendor_flag"]["x"] == 1


async def test_key_request_id_and_metadata_are_forwarded(
    http: httpx.AsyncClient, core: FakeCore
) -> None:
    metadata = {"application": "booking-bot", "customer_id": "123", "long": "x" * 128}
    response = await http.post(
        CHAT,
        json={"model": "echo", "messages": USER},
        headers={"x-request-id": "caller-id-7", "x-tfy-metadata": orjson.dumps(metadata).decode()},
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "caller-id-7"
    assert core.last.metadata["authorization"] == f"Bearer {API_KEY}"
    assert core.last.metadata["x-request-id"] == "caller-id-7"
    # Forwarded as received, for core to parse and check (one rule, in core).
    assert core.last.metadata["x-tfy-metadata-bin"] == orjson.dumps(metadata)
    assert dict(core.last.request.metadata) == {}


def _events(text: str) -> list[Any]:
    assert text.endswith("\n\n")
    events: list[Any] = []
    for block in text[:-2].split("\n\n"):
        assert block.startswith("data: ")
        data = block.removeprefix("data: ")
        events.append(data if data == "[DONE]" else orjson.loads(data))
    return events


async def _stream(http: httpx.AsyncClient, **extra: Any) -> httpx.Response:
    body = {"model": "echo", "messages": USER, "stream": True, **extra}
    return await http.post(CHAT, json=body, headers={"x-tfy-metadata": '{"app": "bot"}'})


async def test_stream_is_framed_like_openai(http: httpx.AsyncClient, core: FakeCore) -> None:
    response = await _stream(http)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-tfy-resolved-model"] == "mock-main/echo"
    assert response.headers["x-request-id"] == REQUEST_ID
    events = _events(response.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    created = chunks[0]["created"]
    assert isinstance(created, int)
    for chunk in chunks:
        assert chunk["id"] == f"chatcmpl-{REQUEST_ID}"
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["model"] == "mock-main/echo"
        assert chunk["created"] == created
    deltas = [c["choices"][0]["delta"] for c in chunks[:-1]]
    assert deltas == [
        {"role": "assistant", "content": "one"},
        {"content": " two"},
        {"content": " three"},
    ]
    assert chunks[-1]["choices"] == [
        {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    ]
    assert "usage" not in chunks[-1] or chunks[-1]["usage"] is None
    assert core.last.method == "StreamRoute"
    assert core.last.metadata["x-tfy-metadata-bin"] == b'{"app": "bot"}'
    # Compact JSON, one event per delta: byte-compatible with OpenAI's framing.
    assert response.content.startswith(b'data: {"id":"chatcmpl-')


async def test_stream_with_usage_adds_a_usage_chunk_before_done(http: httpx.AsyncClient) -> None:
    response = await _stream(http, stream_options={"include_usage": True})
    events = _events(response.text)
    assert events[-1] == "[DONE]"
    usage = events[-2]
    assert usage["choices"] == []
    assert usage["usage"]["prompt_tokens"] == 3
    assert usage["usage"]["completion_tokens"] == 3
    assert usage["usage"]["total_tokens"] == 6
    assert events[-3]["choices"][0]["finish_reason"] == "stop"


async def test_stream_options_without_usage(http: httpx.AsyncClient) -> None:
    response = await _stream(http, stream_options={"include_usage": False})
    events = _events(response.text)
    assert all("usage" not in e or e["usage"] is None for e in events[:-1])


async def test_stream_failing_before_the_first_event_is_an_http_error(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        CHAT,
        json={
            "model": "fail/UNAUTHENTICATED/invalid_api_key/401",
            "messages": USER,
            "stream": True,
        },
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "invalid_api_key"


async def test_stream_cut_midway_ends_with_an_error_event_and_no_done(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        CHAT,
        json={"model": "cut", "messages": [{"role": "user", "content": "a b c d"}], "stream": True},
    )
    assert response.status_code == 200
    events = _events(response.text)
    assert "[DONE]" not in events
    assert [e["choices"][0]["delta"]["content"] for e in events[:-1]] == ["a", " b"]
    assert events[-1] == {
        "error": {
            "message": "upstream cut",
            "type": "api_error",
            "param": None,
            "code": "upstream_stream_cut",
        }
    }


async def test_stream_ending_without_a_result_is_reported(http: httpx.AsyncClient) -> None:
    response = await http.post(CHAT, json={"model": "noresult", "messages": USER, "stream": True})
    events = _events(response.text)
    assert "[DONE]" not in events
    assert events[-1]["error"]["code"] == "upstream_stream_cut"


@pytest.mark.parametrize("spec_version", ["2.0", "2.3"])
async def test_client_disconnect_cancels_the_grpc_call(
    app: FastAPI, core: FakeCore, spec_version: str
) -> None:
    """Drives the ASGI app directly, the way uvicorn does, and hangs up mid-stream."""
    body = orjson.dumps({"model": "hang", "messages": USER, "stream": True})
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": spec_version},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": CHAT,
        "raw_path": CHAT.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"facade.test"),
            (b"authorization", f"Bearer {API_KEY}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("facade.test", 80),
    }
    hang_up = asyncio.Event()
    first_event = asyncio.Event()
    sent: list[Message] = []
    body_sent = False

    async def receive() -> Message:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await hang_up.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            first_event.set()

    served = asyncio.create_task(app(scope, receive, send))
    await first_event.wait()
    assert sent[0]["status"] == 200
    assert b'"content":"one"' in sent[1]["body"]
    hang_up.set()
    await core.cancelled.wait()
    await served
    assert not any(b"[DONE]" in m.get("body", b"") for m in sent)


async def test_request_id_a_header_cannot_carry_is_left_to_core(
    http: httpx.AsyncClient, core: FakeCore
) -> None:
    response = await http.post(
        CHAT, json={"model": "echo", "messages": USER}, headers={b"x-request-id": b"r\xe9\x01"}
    )
    assert response.status_code == 200
    assert "x-request-id" not in core.last.metadata
    assert response.headers["x-request-id"] == REQUEST_ID
