"""VertexProvider against the fake Vertex AI over real HTTP, and its OAuth tokens."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from core.errors import InvalidRequest, UpstreamFailed
from core.providers.google_token import TokenSource
from core.providers.vertex import VertexProvider, vertex_base_url
from gateway.v1.chat_pb2 import FINISH_REASON_STOP, FINISH_REASON_TOOL_CALLS
from gateway.v1.route_service_pb2 import EmbedRequest
from tests.core.providers.support import WEATHER_TOOLS, account, chat_call, collect
from tests.fakes.gemini_wire import FakeGemini, fake_gemini, fake_vector

__all__ = ["fake_gemini"]

START = datetime(2026, 1, 1, 12, 0, 0)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class FakeCredentials:
    """google-auth's Credentials as the provider uses them; each refresh mints a new token.

    `gate`, when set, holds every refresh until released, so a test can pile calls up
    behind one refresh; `thread_names` proves refreshes run off the event loop's thread.
    """

    def __init__(self, clock: Clock, *, lifetime: timedelta = timedelta(hours=1)) -> None:
        self.token: str | None = None
        self.expiry: datetime | None = None
        self._clock = clock
        self._lifetime = lifetime
        self.refresh_count = 0
        self.thread_names: list[str] = []
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.fail = False

    def refresh(self, request: Any) -> None:
        self.thread_names.append(threading.current_thread().name)
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        if self.fail:
            raise RuntimeError("token endpoint said no")
        self.refresh_count += 1
        self.token = f"tok-{self.refresh_count}"
        self.expiry = self._clock() + self._lifetime


def vertex_account(base_url: str | None, **fields: Any) -> Any:
    return account(
        "vertex", base_url, project="proj-1", location="europe-west4", timeout_seconds=2, **fields
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def credentials(clock: Clock) -> FakeCredentials:
    return FakeCredentials(clock)


@pytest.fixture
async def vertex(
    fake_gemini: FakeGemini, credentials: FakeCredentials, clock: Clock
) -> AsyncIterator[VertexProvider]:
    provider = VertexProvider(
        vertex_account(fake_gemini.base_url), credentials=credentials, clock=clock
    )
    yield provider
    await provider.aclose()


def test_regional_and_global_hosts() -> None:
    assert vertex_base_url("us-central1") == "https://us-central1-aiplatform.googleapis.com"
    assert vertex_base_url("global") == "https://aiplatform.googleapis.com"


@pytest.mark.parametrize("stream", [False, True])
async def test_chat_uses_the_project_url_and_a_bearer_token(
    vertex: VertexProvider, fake_gemini: FakeGemini, stream: bool
) -> None:
    model = f"vx-gemini-{stream}"
    deltas, result = await collect(vertex, chat_call(model, stream=stream, tools=WEATHER_TOOLS))
    assert result.choices[0].finish_reason == FINISH_REASON_TOOL_CALLS
    assert [c.function.name for c in result.choices[0].message.tool_calls] == [
        "get_weather",
        "get_time",
    ]
    assert bool(deltas) is stream
    sent = fake_gemini.last_request(model)
    action = "streamGenerateContent" if stream else "generateContent"
    assert sent.path == (
        f"/v1/projects/proj-1/locations/europe-west4/publishers/google/models/{model}:{action}"
    )
    assert sent.headers["authorization"] == "Bearer tok-1"
    assert "x-goog-api-key" not in sent.headers


async def test_token_is_refreshed_before_expiry_in_the_background(
    vertex: VertexProvider, fake_gemini: FakeGemini, credentials: FakeCredentials, clock: Clock
) -> None:
    await collect(vertex, chat_call("vx-refresh", stream=False))
    assert credentials.refresh_count == 1
    # 50 minutes on, 10 remain: the token is still used as is, with no refresh.
    clock.now = START + timedelta(minutes=50)
    await collect(vertex, chat_call("vx-refresh", stream=False))
    assert credentials.refresh_count == 1
    # 56 minutes on, 4 remain (< 5): this call goes on with the old token while a refresh
    # runs; the refresh is held, so the call cannot have waited for it.
    credentials.gate = threading.Event()
    clock.now = START + timedelta(minutes=56)
    await collect(vertex, chat_call("vx-refresh", stream=False))
    assert fake_gemini.last_request("vx-refresh").headers["authorization"] == "Bearer tok-1"
    credentials.gate.set()
    await _refreshed(vertex)
    assert credentials.refresh_count == 2
    await collect(vertex, chat_call("vx-refresh", stream=False))
    assert fake_gemini.last_request("vx-refresh").headers["authorization"] == "Bearer tok-2"
    assert all(name != threading.current_thread().name for name in credentials.thread_names)


async def _refreshed(provider: VertexProvider) -> None:
    task = provider._tokens._refreshing
    assert task is not None
    await task


async def test_concurrent_calls_share_one_refresh(clock: Clock) -> None:
    credentials = FakeCredentials(clock)
    credentials.gate = threading.Event()
    tokens = TokenSource(lambda: credentials, label="v", timeout_seconds=5, clock=clock)
    waiting = [asyncio.create_task(tokens.token()) for _ in range(20)]
    assert await asyncio.to_thread(credentials.entered.wait, 10)
    # Every caller is parked behind the one refresh, held in its worker thread.
    assert not any(task.done() for task in waiting)
    credentials.gate.set()
    assert await asyncio.gather(*waiting) == ["tok-1"] * 20
    assert credentials.refresh_count == 1
    assert tokens.refreshes == 1
    # Expired: the next callers wait for one new refresh, together.
    clock.now = START + timedelta(hours=2)
    assert await asyncio.gather(*(tokens.token() for _ in range(5))) == ["tok-2"] * 5
    assert credentials.refresh_count == 2
    await tokens.aclose()


async def test_a_failed_refresh_is_an_upstream_error_and_is_retried(clock: Clock) -> None:
    credentials = FakeCredentials(clock)
    credentials.fail = True
    tokens = TokenSource(lambda: credentials, label="vx", timeout_seconds=5, clock=clock)
    with pytest.raises(UpstreamFailed, match="vx: could not get a Google access token"):
        await tokens.token()
    credentials.fail = False
    assert await tokens.token() == "tok-1"


async def test_real_google_auth_service_account_against_a_fake_token_endpoint(
    fake_gemini: FakeGemini, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    credentials_file = tmp_path / "sa.json"
    credentials_file.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "proj-1",
                "private_key_id": "k1",
                "private_key": pem,
                "client_email": "gw@proj-1.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": f"{fake_gemini.base_url}/token",
            }
        )
    )
    provider = VertexProvider(
        vertex_account(fake_gemini.base_url, credentials_file=str(credentials_file))
    )
    try:
        _, result = await collect(provider, chat_call("vx-real-auth", stream=True))
    finally:
        await provider.aclose()
    assert result.choices[0].finish_reason == FINISH_REASON_STOP
    issued = fake_gemini.issued_tokens[-1]
    assert fake_gemini.last_request("vx-real-auth").headers["authorization"] == f"Bearer {issued}"
    grant = [r for r in fake_gemini.requests if r.path == "/token"][-1].body
    assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"


async def test_embeddings_via_predict(vertex: VertexProvider, fake_gemini: FakeGemini) -> None:
    request = EmbedRequest(
        model="v/text-embedding-005", inputs=["alpha beta", "gamma"], dimensions=4
    )
    request.extras.update({"task_type": "RETRIEVAL_DOCUMENT"})
    answer = await vertex.embed(request, "text-embedding-005")
    assert [len(e.values) for e in answer.embeddings] == [4, 4]
    assert answer.usage.input_tokens == 3  # the token counts Vertex reports: 2 + 1
    sent = fake_gemini.last_request("text-embedding-005")
    assert sent.path.endswith("/publishers/google/models/text-embedding-005:predict")
    assert sent.body == {
        "instances": [
            {"content": "alpha beta", "task_type": "RETRIEVAL_DOCUMENT"},
            {"content": "gamma", "task_type": "RETRIEVAL_DOCUMENT"},
        ],
        "parameters": {"outputDimensionality": 4},
    }
    assert sent.headers["authorization"] == "Bearer tok-1"


async def test_labels_reach_vertex_as_it_takes_them(
    vertex: VertexProvider, fake_gemini: FakeGemini
) -> None:
    labels = {"Team": "Search Ranking", "cost-center": "r-42", "9lives": "no"}
    _, result = await collect(vertex, chat_call("vx-labels", stream=False, labels=labels))
    assert result.choices[0].finish_reason == FINISH_REASON_STOP
    sent = fake_gemini.last_request("vx-labels").body["labels"]
    assert sent == {"team": "search_ranking", "cost-center": "r-42"}


@pytest.mark.parametrize("stream", [False, True])
async def test_an_invalid_request_is_refused_without_a_token(
    vertex: VertexProvider, fake_gemini: FakeGemini, credentials: FakeCredentials, stream: bool
) -> None:
    credentials.fail = True  # had a token been asked for, the call would fail on it
    with pytest.raises(InvalidRequest) as caught:
        await collect(vertex, chat_call("vx-invalid", stream=stream, logit_bias={"1": 2}))
    assert caught.value.param == "logit_bias"
    assert credentials.thread_names == []
    assert fake_gemini.requests_for("vx-invalid") == []


async def test_gemini_embedding_takes_one_text_a_call_eight_at_once(
    vertex: VertexProvider, fake_gemini: FakeGemini
) -> None:
    # The fake holds the calls until eight are in flight together: serial calls would stall.
    model = "gemini-embedding-001-gather-8"
    texts = [f"text {'word ' * i}".strip() for i in range(20)]
    answer = await vertex.embed(EmbedRequest(model=f"v/{model}", inputs=texts), model)
    sent = fake_gemini.requests_for(model)
    assert [len(r.body["instances"]) for r in sent] == [1] * 20
    assert fake_gemini.max_in_flight(model) == 8
    assert [list(e.values) for e in answer.embeddings] == [
        pytest.approx(fake_vector(text, 8)) for text in texts
    ]
    assert [e.index for e in answer.embeddings] == list(range(20))
    # The token counts Vertex reports for each text, added up: 1 + 2 + ... + 20.
    assert answer.usage.input_tokens == sum(range(1, 21))


class HeldUpstream:
    """Answers `:predict` only once the test releases the calls, counting those in flight."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0
        self.calls = 0
        self.arrived = asyncio.Condition()
        self.release = asyncio.Event()

    async def post_json(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        self.calls += 1
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        async with self.arrived:
            self.arrived.notify_all()
        await self.release.wait()
        self.in_flight -= 1
        return {
            "predictions": [
                {"embeddings": {"values": [float(len(i["content"]))]}} for i in body["instances"]
            ]
        }

    async def aclose(self) -> None:
        pass


async def test_single_text_calls_are_bounded_to_eight_in_flight(
    credentials: FakeCredentials, clock: Clock
) -> None:
    upstream = HeldUpstream()
    provider = VertexProvider(
        vertex_account(None),
        upstream=upstream,
        credentials=credentials,
        clock=clock,
    )
    texts = ["x" * i for i in range(1, 21)]
    task = asyncio.create_task(
        provider.embed(EmbedRequest(model="v/e", inputs=texts), "gemini-embedding-001")
    )
    async with asyncio.timeout(10), upstream.arrived:
        # Every call that may start has started by the time this wakes (asyncio runs ready
        # tasks in order): an unbounded client would have all 20 in flight here.
        await upstream.arrived.wait_for(lambda: upstream.in_flight >= 8)
    assert (upstream.in_flight, upstream.most) == (8, 8)
    upstream.release.set()
    answer = await task
    assert (upstream.calls, upstream.most) == (20, 8)
    assert [e.values[0] for e in answer.embeddings] == [float(i) for i in range(1, 21)]
    await provider.aclose()


async def test_text_embedding_batches_stay_under_250_texts_and_20000_tokens(
    vertex: VertexProvider, fake_gemini: FakeGemini
) -> None:
    texts = [f"text {i}" for i in range(600)]
    answer = await vertex.embed(
        EmbedRequest(model="v/text-embedding-005", inputs=texts), "text-embedding-005-many"
    )
    sizes = sorted(
        len(r.body["instances"]) for r in fake_gemini.requests_for("text-embedding-005-many")
    )
    assert sizes == [100, 250, 250]
    assert [list(e.values) for e in answer.embeddings] == [
        pytest.approx(fake_vector(text, 8)) for text in texts
    ]
    assert answer.usage.input_tokens == 1200
    # Three texts of 8,000 tokens: two fit under the cap together, the third goes alone.
    long = ["w " * 8000] * 3
    answer = await vertex.embed(EmbedRequest(model="v/t", inputs=long), "text-embedding-005-long")
    sizes = sorted(
        len(r.body["instances"]) for r in fake_gemini.requests_for("text-embedding-005-long")
    )
    assert sizes == [1, 2]
    assert answer.usage.input_tokens == 24000
