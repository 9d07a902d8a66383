"""BedrockProvider against the fake Bedrock runtime over real HTTP, every request signed and
checked by the fake."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import pytest
from botocore.credentials import Credentials

from codec import struct_to_dict
from core.errors import (
    GatewayError,
    InvalidRequest,
    UpstreamFailed,
    UpstreamRejected,
    UpstreamStreamCut,
    UpstreamTimeout,
)
from core.providers import bedrock_credentials
from core.providers.bedrock import (
    MAX_CONCURRENT_INVOKES,
    BedrockProvider,
    default_base_url,
    model_path,
)
from core.providers.bedrock_request import EMPTY_TOOL_RESULT
from core.providers.bedrock_signing import SigV4Signer
from gateway.v1.chat_pb2 import FINISH_REASON_STOP, FINISH_REASON_TOOL_CALLS, ChatDelta
from gateway.v1.route_service_pb2 import EmbedRequest
from tests.core.providers.support import WEATHER_TOOLS, account, chat_call, collect
from tests.fakes.bedrock_wire import (
    ACCESS_KEY,
    COHERE_MAX_TEXTS,
    REGION,
    SECRET_KEY,
    FakeBedrock,
    fake_vector,
    isolate_aws_env,
    run_fake_bedrock,
)

CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_aws_env(monkeypatch)


@pytest.fixture(scope="module")
def fake_bedrock() -> Iterator[FakeBedrock]:
    with run_fake_bedrock() as fake:
        yield fake


@pytest.fixture
async def bedrock(fake_bedrock: FakeBedrock) -> AsyncIterator[BedrockProvider]:
    provider = BedrockProvider(account("bedrock", fake_bedrock.base_url, region=REGION))
    yield provider
    await provider.aclose()
    assert fake_bedrock.bad_signatures == 0


def test_paths_and_endpoint() -> None:
    assert default_base_url("eu-west-3") == "https://bedrock-runtime.eu-west-3.amazonaws.com"
    assert model_path(CLAUDE, "converse") == (
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    )
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-v1:0"
    assert model_path(arn, "invoke") == (
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile"
        "%2Fus.anthropic.claude-v1%3A0/invoke"
    )


@pytest.mark.parametrize("stream", [False, True])
async def test_chat(bedrock: BedrockProvider, fake_bedrock: FakeBedrock, stream: bool) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi there"}]
    deltas, result = await collect(
        bedrock, chat_call(CLAUDE, stream=stream, messages=messages, max_tokens=64)
    )
    assert result.choices[0].message.text == "echo: hi there"
    assert result.choices[0].finish_reason == FINISH_REASON_STOP
    assert result.usage.input_tokens > 0
    assert result.usage.output_tokens > 0
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens
    if stream:
        assert len(deltas) == 2
        assert "".join(d.content for d in deltas) == "echo: hi there"
    else:
        assert deltas == []
    sent = fake_bedrock.last_request(CLAUDE)
    # The `:` of the model id stays encoded on the wire, as it was signed.
    operation = "converse-stream" if stream else "converse"
    assert sent.raw_path == f"/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/{operation}"
    assert sent.operation == operation
    assert sent.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
    assert sent.body["system"] == [{"text": "Be brief."}]
    assert sent.body["inferenceConfig"] == {"maxTokens": 64}


@pytest.mark.parametrize("stream", [False, True])
async def test_cache_tokens_are_reported(bedrock: BedrockProvider, stream: bool) -> None:
    _, result = await collect(bedrock, chat_call("cache-model", stream=stream))
    assert struct_to_dict(result.usage.extras) == {
        "cache_read_input_tokens": 3,
        "cache_creation_input_tokens": 2,
    }


@pytest.mark.parametrize("stream", [False, True])
async def test_parallel_tool_calls_and_their_results(
    bedrock: BedrockProvider, fake_bedrock: FakeBedrock, stream: bool
) -> None:
    deltas, result = await collect(
        bedrock, chat_call("tools-a", stream=stream, tools=WEATHER_TOOLS)
    )
    choice = result.choices[0]
    assert choice.finish_reason == FINISH_REASON_TOOL_CALLS
    assert choice.message.text == "Calling tools."
    calls = choice.message.tool_calls
    assert [(c.id, c.function.name) for c in calls] == [
        ("tooluse_0", "get_weather"),
        ("tooluse_1", "get_time"),
    ]
    assert [json.loads(c.function.arguments) for c in calls] == [{"call": 0}, {"call": 1}]
    if stream:
        # Blocks 1 and 2 carry the calls; OpenAI clients must see indexes 0 and 1.
        assert sorted({t.index for d in deltas for t in d.tool_calls}) == [0, 1]

    follow_up = [
        {"role": "user", "content": "hi there"},
        {
            "role": "assistant",
            "content": choice.message.text,
            "tool_calls": [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.function.name, "arguments": c.function.arguments},
                }
                for c in calls
            ],
        },
        {"role": "tool", "tool_call_id": "tooluse_0", "content": "rain"},
        {"role": "tool", "tool_call_id": "tooluse_1", "content": "noon"},
    ]
    _, answer = await collect(
        bedrock, chat_call("tools-a", stream=stream, tools=WEATHER_TOOLS, messages=follow_up)
    )
    assert answer.choices[0].message.text == "results: rain; noon"
    assert answer.choices[0].finish_reason == FINISH_REASON_STOP


async def test_a_forced_tool_is_a_single_call(
    bedrock: BedrockProvider, fake_bedrock: FakeBedrock
) -> None:
    call = chat_call(
        "tools-one",
        stream=True,
        tools=WEATHER_TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    _, result = await collect(bedrock, call)
    assert [c.function.name for c in result.choices[0].message.tool_calls] == ["get_time"]
    assert fake_bedrock.last_request("tools-one").body["toolConfig"]["toolChoice"] == {
        "tool": {"name": "get_time"}
    }


@pytest.mark.parametrize("stream", [False, True])
async def test_an_image(bedrock: BedrockProvider, stream: bool) -> None:
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
    ]
    call = chat_call("image-model", stream=stream, messages=[{"role": "user", "content": content}])
    _, result = await collect(bedrock, call)
    assert result.choices[0].message.text == "images: png/70 bytes"


async def _failure(
    provider: BedrockProvider, model: str, *, stream: bool
) -> tuple[GatewayError, list[ChatDelta]]:
    deltas: list[ChatDelta] = []

    async def run() -> None:
        async for event in provider.chat(chat_call(model, stream=stream)):
            assert isinstance(event, ChatDelta), "a failing call must not finish"
            deltas.append(event)

    with pytest.raises(GatewayError) as caught:
        await run()
    return caught.value, deltas


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("model", "kind", "status", "said"),
    [
        ("throttle", UpstreamRejected, 429, "ThrottlingException: Too many requests"),
        ("invalid", UpstreamRejected, 400, "ValidationException: The provided model identifier"),
        ("denied", UpstreamRejected, 403, "AccessDeniedException: You don't have access"),
        ("unavailable", UpstreamFailed, 502, "ServiceUnavailableException: Bedrock is unavailable"),
        ("model-timeout", UpstreamTimeout, 504, "ModelTimeoutException: Model has timed out"),
    ],
)
async def test_error_answers(
    bedrock: BedrockProvider,
    model: str,
    kind: type[GatewayError],
    status: int,
    said: str,
    stream: bool,
) -> None:
    error, deltas = await _failure(bedrock, model, stream=stream)
    assert type(error) is kind
    assert error.http_code() == status
    assert error.message.startswith(f"acct/{model}: upstream ")
    assert said in error.message
    assert deltas == []
    if model == "throttle":
        assert error.details == {"retry_after_seconds": "2"}


async def test_an_exception_frame_mid_stream(bedrock: BedrockProvider) -> None:
    error, deltas = await _failure(bedrock, "midstream", stream=True)
    assert isinstance(error, UpstreamRejected)
    assert error.upstream_status == 429
    assert "ThrottlingException in the stream: Too many tokens, slow down." in error.message
    assert len(deltas) == 1  # what came before the exception still reached the caller


async def test_a_cut_stream_and_a_corrupt_frame(bedrock: BedrockProvider) -> None:
    cut, _ = await _failure(bedrock, "cut", stream=True)
    assert isinstance(cut, UpstreamStreamCut)
    assert "without messageStop" in cut.message
    corrupt, _ = await _failure(bedrock, "corrupt", stream=True)
    assert isinstance(corrupt, UpstreamFailed)
    assert "corrupt event-stream frame (ChecksumMismatch)" in corrupt.message


async def test_a_frame_over_max_response_bytes_is_refused(fake_bedrock: FakeBedrock) -> None:
    provider = BedrockProvider(
        account("bedrock", fake_bedrock.base_url, region=REGION, max_response_bytes=1024)
    )
    long_text = "word " * 600  # echoed back in one frame of about 1.5 KB
    try:
        with pytest.raises(UpstreamFailed, match="stream event is over max_response_bytes"):
            await collect(
                provider,
                chat_call(
                    "echo-big", stream=True, messages=[{"role": "user", "content": long_text}]
                ),
            )
    finally:
        await provider.aclose()


async def test_a_wrong_signature_is_refused_by_the_fake(fake_bedrock: FakeBedrock) -> None:
    before = fake_bedrock.bad_signatures
    signer = SigV4Signer(Credentials(ACCESS_KEY, "not-the-secret"), REGION)
    provider = BedrockProvider(
        account("bedrock", fake_bedrock.base_url, region=REGION), signer=signer
    )
    try:
        error, _ = await _failure(provider, "echo-forged", stream=False)
    finally:
        await provider.aclose()
    assert isinstance(error, UpstreamRejected)
    assert error.upstream_status == 403
    assert "signature we calculated does not match" in error.message
    assert fake_bedrock.bad_signatures == before + 1
    fake_bedrock.bad_signatures = before  # expected: the fixture's check is for the others


@pytest.mark.parametrize("stream", [False, True])
async def test_signature_errors_never_quote_the_credentials(
    fake_bedrock: FakeBedrock, stream: bool
) -> None:
    before = fake_bedrock.bad_signatures
    token = "IQoJb3JpZ2luX2VjEFAKE-session-token-5d1c"
    # A wrong secret: AWS answers with the canonical request, session token included.
    forged = SigV4Signer(Credentials(ACCESS_KEY, "not-the-secret", token), REGION)
    # A wrong region: the fake's answer quotes the credential scope, access key id included.
    misplaced = SigV4Signer(Credentials(ACCESS_KEY, SECRET_KEY), "eu-west-3")
    messages = []
    for signer in (forged, misplaced):
        provider = BedrockProvider(
            account("bedrock", fake_bedrock.base_url, region=REGION), signer=signer
        )
        try:
            error, _ = await _failure(provider, "echo-forged", stream=stream)
        finally:
            await provider.aclose()
        assert isinstance(error, UpstreamRejected)
        assert error.upstream_status == 403
        messages.append(error.message)
        if signer is forged:
            said = fake_bedrock.last_signature_error
            assert token in said  # the test means something: AWS's message held it
            assert "The Canonical String for this request" in said
            assert "String-to-Sign" in said
    forged_message, misplaced_message = messages
    assert forged_message.endswith(
        "InvalidSignatureException: The request signature we calculated does not match the "
        "signature you provided. (the signed request it quoted is withheld)"
    )
    assert "[redacted]/" in misplaced_message  # `Credential=<key id>/<date>/...`
    for message in messages:
        assert token not in message
        assert ACCESS_KEY not in message
        assert "Canonical" not in message
    assert fake_bedrock.bad_signatures == before + 2
    fake_bedrock.bad_signatures = before  # expected: the fixture's check is for the others


class _CountingChain:
    """Stands in for botocore's Session: counts credential lookups and their threads."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def session(self, profile: str | None = None) -> _CountingChain:
        return self

    def get_credentials(self) -> Credentials:
        self.threads.append(threading.current_thread())
        return Credentials(ACCESS_KEY, SECRET_KEY)


async def test_credentials_are_looked_up_on_the_first_calls_once(
    fake_bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = _CountingChain()
    monkeypatch.setattr(bedrock_credentials, "Session", chain.session)
    # Built on the loop (start-up, config reload): the chain may block on the network.
    provider = BedrockProvider(account("bedrock", fake_bedrock.base_url, region=REGION))
    try:
        assert chain.threads == []
        calls = [collect(provider, chat_call(CLAUDE, stream=i % 2 == 0)) for i in range(6)]
        answers = await asyncio.gather(*calls)
        assert all(r.choices[0].message.text == "echo: hi there" for _, r in answers)
        assert len(chain.threads) == 1, "concurrent first calls share one lookup"
        assert chain.threads[0] is not threading.main_thread()
        await collect(provider, chat_call(CLAUDE, stream=False))
        assert len(chain.threads) == 1
    finally:
        await provider.aclose()


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    "request_fields", [{}, {"tool_choice": "none"}], ids=["no-tools", "choice-none"]
)
async def test_a_tool_history_with_blank_text_and_no_tools_is_taken(
    bedrock: BedrockProvider,
    fake_bedrock: FakeBedrock,
    stream: bool,
    request_fields: dict[str, Any],
) -> None:
    # What an OpenAI client sends to have a tool loop summed up: the call beside empty text,
    # a tool that printed nothing, no tools declared any more.
    messages = [
        {"role": "user", "content": "hi there"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "tooluse_0",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "tooluse_0", "content": ""},
        {"role": "user", "content": [{"type": "text", "text": " \n"}]},
    ]
    call = chat_call("tools-history", stream=stream, messages=messages, **request_fields)
    _, result = await collect(bedrock, call)
    assert result.choices[0].message.text == f"results: {EMPTY_TOOL_RESULT}"
    sent = fake_bedrock.last_request("tools-history").body
    assert [t["toolSpec"]["name"] for t in sent["toolConfig"]["tools"]] == ["get_weather"]


async def test_the_user_tag_bedrock_would_refuse_is_made_fit(
    bedrock: BedrockProvider, fake_bedrock: FakeBedrock
) -> None:
    _, result = await collect(bedrock, chat_call("echo-user", stream=False, user="Zoë (team ü)"))
    assert result.choices[0].message.text == "echo: hi there"
    assert fake_bedrock.last_request("echo-user").body["requestMetadata"] == {
        "user": "Zo_ _team __"
    }


async def test_a_stream_without_usage_metadata_reports_an_estimate(
    bedrock: BedrockProvider,
) -> None:
    _, result = await collect(
        bedrock,
        chat_call("no-usage", stream=True, messages=[{"role": "user", "content": "count " * 40}]),
    )
    assert result.choices[0].message.text.startswith("echo: count count")
    usage = result.usage
    # About four characters a token: 240 characters of question, 246 of answer.
    assert usage.input_tokens >= 60
    assert usage.output_tokens >= 60
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


async def test_invalid_requests_never_reach_bedrock(
    bedrock: BedrockProvider, fake_bedrock: FakeBedrock
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await collect(bedrock, chat_call("never-sent", stream=False, seed=7))
    assert caught.value.param == "seed"
    assert not [r for r in fake_bedrock.requests if r.model == "never-sent"]


async def test_titan_embeddings_one_call_per_input(
    bedrock: BedrockProvider, fake_bedrock: FakeBedrock
) -> None:
    model = "amazon.titan-embed-text-v2:0"
    response = await bedrock.embed(EmbedRequest(inputs=["one two", "three"], dimensions=256), model)
    assert [e.index for e in response.embeddings] == [0, 1]
    assert [len(e.values) for e in response.embeddings] == [256, 256]
    assert response.embeddings[0].values != response.embeddings[1].values
    assert (response.usage.input_tokens, response.usage.total_tokens) == (3, 3)
    sent = [r for r in fake_bedrock.requests if r.model == model]
    assert sorted(r.body["inputText"] for r in sent[-2:]) == ["one two", "three"]
    assert all(r.body["dimensions"] == 256 for r in sent[-2:])
    assert sent[-1].raw_path == "/model/amazon.titan-embed-text-v2%3A0/invoke"


async def test_cohere_embeddings_in_one_call(
    bedrock: BedrockProvider, fake_bedrock: FakeBedrock
) -> None:
    model = "cohere.embed-english-v3"
    request = EmbedRequest(inputs=["a", "b", "c"])
    request.extras.update({"encoding_format": "base64"})
    response = await bedrock.embed(request, model)
    assert [e.index for e in response.embeddings] == [0, 1, 2]
    assert all(len(e.values) == 8 for e in response.embeddings)
    assert fake_bedrock.last_request(model).body == {
        "texts": ["a", "b", "c"],
        "input_type": "search_document",
    }


async def test_cohere_embeddings_go_in_batches_bedrock_takes(
    bedrock: BedrockProvider, fake_bedrock: FakeBedrock
) -> None:
    model = "cohere.embed-multilingual-v3"
    texts = [f"text number {i}" for i in range(2 * COHERE_MAX_TEXTS + 8)]
    response = await bedrock.embed(EmbedRequest(inputs=texts), model)
    sent = [r for r in fake_bedrock.requests if r.model == model]
    assert [len(r.body["texts"]) for r in sent] == [96, 96, 8]
    assert [t for r in sent for t in r.body["texts"]] == texts
    assert [e.index for e in response.embeddings] == list(range(len(texts)))
    assert [list(e.values) for e in response.embeddings] == [
        pytest.approx(fake_vector(text, 8)) for text in texts
    ]
    # From the X-Amzn-Bedrock-Input-Token-Count header of each answer: 3 words a text.
    assert (response.usage.input_tokens, response.usage.total_tokens) == (
        3 * len(texts),
        3 * len(texts),
    )


class _GatedTitan:
    """An in-process Bedrock for Titan: the calls wait together until as many as the
    provider's bound are in flight, so running more at once shows as more in flight."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most_in_flight = 0
        self.calls = 0
        self._full = asyncio.Event()

    async def post_bytes_with_headers(
        self, path: str, data: bytes, *, label: str, headers: Mapping[str, str] | None = None
    ) -> tuple[Any, Mapping[str, str]]:
        self.calls += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if self.in_flight >= MAX_CONCURRENT_INVOKES:
            self._full.set()
        await self._full.wait()
        self.in_flight -= 1
        text = json.loads(data)["inputText"]
        # No token count in the body or a header: the provider estimates.
        return {"embedding": [float(len(text))]}, {}

    async def aclose(self) -> None:
        pass


async def test_titan_calls_run_a_bounded_few_at_a_time() -> None:
    upstream = _GatedTitan()
    # Static credentials: signing never yields, so every call that may start does at once.
    provider = BedrockProvider(
        account("bedrock", "http://unused", region=REGION),
        upstream=upstream,  # type: ignore[arg-type]  # the embedding half of the seam
        signer=SigV4Signer(Credentials(ACCESS_KEY, SECRET_KEY), REGION),
    )
    texts = ["x" * i for i in range(1, 21)]
    response = await provider.embed(EmbedRequest(inputs=texts), "amazon.titan-embed-text-v2:0")
    assert upstream.calls == len(texts)
    assert upstream.most_in_flight == MAX_CONCURRENT_INVOKES
    assert [e.values[0] for e in response.embeddings] == [float(len(t)) for t in texts]
    assert response.usage.input_tokens > 0


async def test_titan_calls_over_http_stay_within_the_bound(
    bedrock: BedrockProvider, fake_bedrock: FakeBedrock
) -> None:
    texts = [f"input {i}" for i in range(3 * MAX_CONCURRENT_INVOKES)]
    response = await bedrock.embed(EmbedRequest(inputs=texts), "amazon.titan-embed-g1-text-02")
    assert len(response.embeddings) == len(texts)
    assert response.usage.input_tokens == 2 * len(texts)
    assert fake_bedrock.max_invokes_in_flight <= MAX_CONCURRENT_INVOKES


@pytest.mark.parametrize(
    ("model", "fields", "param"),
    [
        ("meta.llama3-8b-instruct-v1:0", {}, "model"),
        ("cohere.embed-english-v3", {"user": "u"}, "user"),
        ("amazon.titan-embed-text-v2:0", {"extras": {"input_type": "x"}}, "input_type"),
    ],
)
async def test_embeddings_bedrock_cannot_serve_are_refused(
    bedrock: BedrockProvider, model: str, fields: dict[str, Any], param: str
) -> None:
    extras = fields.pop("extras", {})
    request = EmbedRequest(inputs=["a"], **fields)
    request.extras.update(extras)
    with pytest.raises(InvalidRequest) as caught:
        await bedrock.embed(request, model)
    assert caught.value.param == param


async def test_a_failing_embedding_call_fails_the_request(bedrock: BedrockProvider) -> None:
    with pytest.raises(UpstreamRejected) as caught:
        await bedrock.embed(EmbedRequest(inputs=["a", "b"]), "amazon.titan-embed-throttle")
    assert caught.value.upstream_status == 429
