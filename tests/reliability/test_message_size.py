"""Big answers, requests and log records through the whole gateway (core + facade, real sockets).

One setting (GATEWAY_GRPC_MAX_MESSAGE_BYTES, 16 MiB by default) bounds every gRPC message
between facade and core, both ways. Within it, answers of any size pass; over it, the caller
gets a 502 `response_too_large` it is told not to retry, or a 413, never a 429; log pages always
fit, whatever the transport.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest
from pydantic import ValidationError

from core.config.settings import Settings
from tests.conftest import MOCK_CONFIG
from tests.harness import RunningGateway, run_gateway
from tests.logapi.conftest import REQUESTS_PATH

MIB = 1024 * 1024
TIGHT = 1 * MIB  # the message limit (and body limit) of the `tight` gateway


@pytest.fixture(scope="module")
def roomy() -> Iterator[RunningGateway]:
    """The default message limit, and a body limit that lets a test send a 5 MB prompt."""
    with run_gateway(MOCK_CONFIG, max_body_bytes=8 * MIB) as running:
        yield running


@pytest.fixture(scope="module")
def tight() -> Iterator[RunningGateway]:
    """A 1 MiB message limit, so over-limit answers stay small enough to test quickly; over
    gRPC whatever this run's transport (in process, messages are objects: no limit applies)."""
    with run_gateway(
        MOCK_CONFIG, max_body_bytes=TIGHT, grpc_max_message_bytes=TIGHT, facade_transport="grpc"
    ) as running:
        yield running


def _tight_over(data_dir: Path) -> AbstractContextManager[RunningGateway]:
    """A gateway of the test's own with the 1 MiB limit (over this run's transport)."""
    return run_gateway(
        MOCK_CONFIG, max_body_bytes=TIGHT, grpc_max_message_bytes=TIGHT, data_dir=data_dir
    )


def _http(gateway: RunningGateway) -> httpx.Client:
    return httpx.Client(
        base_url=gateway.http_url,
        headers={"authorization": f"Bearer {gateway.admin_key}"},
        timeout=60,
    )


def _chat(gateway: RunningGateway, content: str, **extra: Any) -> httpx.Response:
    body = {"model": "mock-main/echo", "messages": [{"role": "user", "content": content}]}
    with _http(gateway) as http:
        return http.post("/v1/chat/completions", json={**body, **extra})


def test_embeddings_of_400_inputs_at_3072_dimensions_are_a_200(roomy: RunningGateway) -> None:
    # ~4.9 MB as protobuf floats (over grpc's default 4 MiB), ~24 MB as JSON.
    inputs = [f"document {i}" for i in range(400)]
    with _http(roomy) as http:
        response = http.post(
            "/v1/embeddings",
            json={"model": "mock-main/embed", "input": inputs, "dimensions": 3072},
        )
    assert response.status_code == 200, response.text[:500]
    data = response.json()["data"]
    assert [d["index"] for d in data] == list(range(400))
    assert all(len(d["embedding"]) == 3072 for d in data)


def test_a_streamed_answer_over_4_mib_ends_with_done(roomy: RunningGateway) -> None:
    # The echo comes back in 500 deltas of 10 KB; the final result holds all 5 MB.
    prompt = " ".join(["z" * 10_000] * 500)
    response = _chat(roomy, prompt, stream=True)
    assert response.status_code == 200
    blocks = response.text.removesuffix("\n\n").split("\n\n")
    assert blocks[-1] == "data: [DONE]"
    chunks = [orjson.loads(b.removeprefix("data: ")) for b in blocks[:-1]]
    assert all("error" not in chunk for chunk in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == prompt
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


async def test_an_answer_over_the_limit_is_a_502_the_sdk_does_not_retry(
    tight: RunningGateway,
) -> None:
    sent: list[httpx.Request] = []

    async def count(request: httpx.Request) -> None:
        sent.append(request)

    http_client = httpx.AsyncClient(event_hooks={"request": [count]}, timeout=60)
    async with openai.AsyncOpenAI(
        base_url=tight.openai_base_url,
        api_key=tight.admin_key,
        max_retries=2,
        http_client=http_client,
    ) as sdk:
        with pytest.raises(openai.InternalServerError) as caught:
            # 100 x 3072 floats: ~1.2 MB as protobuf, over the 1 MiB limit.
            await sdk.embeddings.create(
                model="mock-main/embed", input=[f"d{i}" for i in range(100)], dimensions=3072
            )
    assert caught.value.status_code == 502
    assert caught.value.code == "response_too_large"
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert len(sent) == 1


def test_a_request_over_the_limit_is_a_413(tight: RunningGateway) -> None:
    # Under the body limit as JSON, but an unmodeled list of numbers travels as a Struct:
    # ~11 protobuf bytes per 2-byte `0,`, so well over the message limit.
    response = _chat(tight, "hi", padding=[0] * 200_000)
    assert response.status_code == 413
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "payload_too_large")
    assert f"over the limit of {TIGHT} bytes" in error["message"]


def _records(gateway: RunningGateway) -> list[dict[str, Any]]:
    with _http(gateway) as http:
        response = http.post(REQUESTS_PATH, json={"sort": [{"key": "created_at"}]})
    assert response.status_code == 200, response.text[:500]
    records: list[dict[str, Any]] = response.json()["data"]
    return records


def _get(gateway: RunningGateway, log_id: str) -> dict[str, Any]:
    with _http(gateway) as http:
        response = http.get(f"{REQUESTS_PATH}/{log_id}")
    assert response.status_code == 200, response.text[:500]
    record: dict[str, Any] = response.json()
    return record


def test_a_log_page_holding_a_3_mb_prompt_is_readable_whole(tmp_path: Path) -> None:
    prompt = "p" * (3 * 1000 * 1000)  # logged twice: the request and its echo
    with run_gateway(MOCK_CONFIG, data_dir=tmp_path) as gateway:
        assert _chat(gateway, prompt).status_code == 200
        assert _chat(gateway, "small").status_code == 200
    # Stopping drained the log pipeline into the store; a new gateway over it reads it back.
    with run_gateway(MOCK_CONFIG, data_dir=tmp_path) as gateway:
        big, small = _records(gateway)
        assert big["request"]["messages"] == [{"role": "user", "content": prompt}]
        assert big["response"]["choices"][0]["message"]["content"] == prompt
        assert small["request"]["messages"][0]["content"] == "small"
        assert not big["bodies_truncated"]
        assert not small["bodies_truncated"]
        assert _get(gateway, big["id"])["request"] == big["request"]


def test_log_records_over_the_limit_come_back_cut_and_flagged(tmp_path: Path) -> None:
    prompt = "q" * 700_000  # ~1.4 MB of bodies: over the 1 MiB limit
    with _tight_over(tmp_path) as gateway:
        assert _chat(gateway, prompt).status_code == 200
        assert _chat(gateway, "small").status_code == 200
    with _tight_over(tmp_path) as gateway:
        big, small = _records(gateway)
        assert big["bodies_truncated"]
        for body in (big["request"], big["response"]):
            assert isinstance(body, str)  # the start of the logged JSON text
            assert body.startswith("{")
            assert 100_000 < len(body) < 700_000
        assert prompt[:100_000] in big["request"]
        assert prompt[:100_000] in big["response"]
        assert big["usage"]["total_tokens"] > 0  # everything but the bodies is whole
        assert not small["bodies_truncated"]
        assert small["request"]["messages"][0]["content"] == "small"
        alone = _get(gateway, big["id"])
        assert alone["bodies_truncated"]
        assert len(alone["request"]) >= len(big["request"])


def test_settings_refuse_a_body_limit_over_the_message_limit() -> None:
    with pytest.raises(ValidationError, match=r"max_body_bytes \(2097152\) must not exceed"):
        Settings(max_body_bytes=2 * MIB, grpc_max_message_bytes=MIB)
    assert Settings(max_body_bytes=MIB, grpc_max_message_bytes=MIB).max_body_bytes == MIB
