"""The fake upstream itself, from plain sync code: the wire shapes other tests rely on."""

from __future__ import annotations

import json

import httpx

from tests.fakes.upstream import FakeUpstream


def _sse_datas(text: str) -> list[str]:
    return [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]


def test_openai_stream_sends_usage_only_when_asked(fake_upstream: FakeUpstream) -> None:
    url = f"{fake_upstream.base_url}/v1/chat/completions"
    body = {"model": "sync-plain", "messages": [{"role": "user", "content": "a b"}], "stream": True}
    without = _sse_datas(httpx.post(url, json=body).text)
    assert without[-1] == "[DONE]"
    assert all("usage" not in json.loads(d) for d in without[:-1])
    body["stream_options"] = {"include_usage": True}
    with_usage = _sse_datas(httpx.post(url, json=body).text)
    last = json.loads(with_usage[-2])
    assert last["choices"] == []
    assert last["usage"]["prompt_tokens"] == 2


def test_forced_tools_without_tools_call_lookup(fake_upstream: FakeUpstream) -> None:
    url = f"{fake_upstream.base_url}/v1/chat/completions"
    body = {"model": "sync-tools", "messages": [{"role": "user", "content": "x"}]}
    answer = httpx.post(url, json=body).json()
    assert answer["choices"][0]["finish_reason"] == "tool_calls"
    assert answer["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "lookup"


def test_anthropic_event_sequence(fake_upstream: FakeUpstream) -> None:
    body = {
        "model": "sync-claude-tools",
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "x"}],
    }
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    text = httpx.post(f"{fake_upstream.base_url}/v1/messages", json=body, headers=headers).text
    names = [line[len("event: ") :] for line in text.splitlines() if line.startswith("event: ")]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_anthropic_refusals(fake_upstream: FakeUpstream) -> None:
    url = f"{fake_upstream.base_url}/v1/messages"
    body = {"model": "sync-claude", "messages": [{"role": "user", "content": "x"}]}
    no_key = httpx.post(url, json=body, headers={"anthropic-version": "2023-06-01"})
    assert no_key.status_code == 401
    no_max = httpx.post(url, json=body, headers={"x-api-key": "k", "anthropic-version": "v"})
    assert no_max.status_code == 400
    assert no_max.json()["error"]["message"] == "max_tokens: Field required"
    assert fake_upstream.last_request("sync-claude").headers["x-api-key"] == "k"
