"""A misbehaving provider, through the whole gateway over real HTTP (facade, gRPC, core, the
upstream client, the fake provider on 127.0.0.1): each fault is a clear error in OpenAI's
shape with the right status, in the time the account's config allows, never a hang or a 500.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from gateway.v1.chat_pb2 import ROLE_USER, ChatParams, Message
from gateway_client import DeadlineExceededError, GatewayClient
from tests.fakes.upstream import FakeUpstream
from tests.harness import RunningGateway, run_gateway

CAP = 100_000
"""The faulty account's `max_response_bytes`."""

MODELS = [
    "rel-echo",
    "rel-trickle-20",
    "rel-slow-5000",
    "rel-firstbyte-hold-0",
    "rel-stall-hold-2",
    "rel-big-50000000",
    "rel-bigevent-50000000",
    "rel-fail-429-retryafter-7",
    "rel-fallback-trickle-20",
    "rel-grpc-slow-5000",
]


def _config(fake: FakeUpstream) -> str:
    models = "\n".join(f"  - {{name: {m}}}" for m in MODELS)
    return f"""
name: faulty
type: provider-account
provider: openai
base_url: {fake.base_url}/v1
timeout_seconds: 0.5
stream_idle_timeout_seconds: 0.5
max_response_bytes: {CAP}
models:
{models}
---
name: fallbacks
type: gateway-fallback-config
rules:
  - id: trickle-to-echo
    when: {{models: [faulty/rel-fallback-trickle-20]}}
    fallback_models: [{{target: faulty/rel-echo}}]
"""


@pytest.fixture(scope="module")
def gateway(fake_upstream: FakeUpstream) -> Iterator[RunningGateway]:
    with run_gateway(_config(fake_upstream)) as running:
        yield running


@pytest.fixture
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {gateway.admin_key}"}
    with httpx.Client(base_url=f"{gateway.http_url}/v1", headers=headers, timeout=10) as client:
        yield client


def chat(http: httpx.Client, model: str, *, stream: bool = False) -> httpx.Response:
    body: dict[str, Any] = {
        "model": f"faulty/{model}",
        "messages": [{"role": "user", "content": "hi there"}],
        "stream": stream,
    }
    return http.post("/chat/completions", json=body)


def error_of(response: httpx.Response) -> dict[str, Any]:
    error = response.json()["error"]
    assert isinstance(error, dict)
    return error


def sse_datas(response: httpx.Response) -> list[str]:
    return [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]


def test_a_trickling_answer_is_a_504_after_timeout_seconds(http: httpx.Client) -> None:
    started = time.monotonic()
    response = chat(http, "rel-trickle-20")
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    error = error_of(response)
    assert error["code"] == "upstream_timeout"
    assert error["message"] == (
        "faulty/rel-trickle-20: upstream did not answer within 0.5 s (timeout_seconds)"
    )
    assert 0.5 <= elapsed < 3.0


@pytest.mark.parametrize(
    ("model", "stream"), [("rel-slow-5000", False), ("rel-firstbyte-hold-0", True)]
)
def test_no_first_byte_within_timeout_seconds_is_a_504(
    http: httpx.Client, model: str, stream: bool
) -> None:
    # Before the first event nothing is committed: a stream fails with a real status too.
    response = chat(http, model, stream=stream)
    assert response.status_code == 504
    assert error_of(response)["code"] == "upstream_timeout"
    assert "within 0.5 s (timeout_seconds)" in error_of(response)["message"]


def test_a_stalled_stream_ends_with_an_error_event(http: httpx.Client) -> None:
    response = chat(http, "rel-stall-hold-2", stream=True)
    assert response.status_code == 200
    datas = sse_datas(response)
    assert "[DONE]" not in datas
    *chunks, last = datas
    assert [orjson.loads(c)["object"] for c in chunks] == ["chat.completion.chunk"] * 2
    error = orjson.loads(last)["error"]
    assert error["code"] == "upstream_timeout"
    assert "stream stalled: nothing for 0.5 s (stream_idle_timeout_seconds)" in error["message"]


@pytest.mark.parametrize(
    ("model", "stream", "what"),
    [("rel-big-50000000", False, "answer"), ("rel-bigevent-50000000", True, "stream event")],
)
def test_an_oversized_answer_is_a_502_naming_the_limit(
    http: httpx.Client, fake_upstream: FakeUpstream, model: str, stream: bool, what: str
) -> None:
    response = chat(http, model, stream=stream)
    assert response.status_code == 502
    error = error_of(response)
    assert error["code"] == "upstream_error"
    assert error["message"].startswith(
        f"faulty/{model}: upstream {what} is over max_response_bytes ({CAP} bytes)"
    )
    # The gateway stopped reading: the fake saw it leave before the 50 MB were out.
    assert fake_upstream.wait_for_disconnects(model)


def test_an_upstream_429_keeps_its_retry_after(http: httpx.Client) -> None:
    response = chat(http, "rel-fail-429-retryafter-7")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert error_of(response)["message"] == (
        "faulty/rel-fail-429-retryafter-7: upstream answered HTTP 429: "
        "fake failure 429 for rel-fail-429-retryafter-7"
    )


def test_a_timeout_is_a_failed_attempt_the_fallback_rule_moves_past(http: httpx.Client) -> None:
    response = chat(http, "rel-fallback-trickle-20")
    assert response.status_code == 200
    assert response.headers["x-tfy-resolved-model"] == "faulty/rel-echo"
    assert (
        response.headers["x-tfy-applied-configurations"]
        == orjson.dumps({"gateway-fallback-config": ["trickle-to-echo"]}).decode()
    )
    assert response.json()["choices"][0]["message"]["content"] == "echo: hi there"


async def test_a_timeout_is_deadline_exceeded_over_grpc(gateway: RunningGateway) -> None:
    params = ChatParams(
        model="faulty/rel-grpc-slow-5000", messages=[Message(role=ROLE_USER, text="hi")]
    )
    async with GatewayClient(gateway.grpc_target, api_key=gateway.admin_key) as client:
        with pytest.raises(DeadlineExceededError) as raised:
            await client.route(params)
    assert raised.value.reason == "upstream_timeout"
    assert raised.value.http_status == 504
