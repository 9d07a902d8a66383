"""The real openai SDK -> gateway -> Gemini API and Vertex AI (the fake, over real HTTP)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import openai
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from tests.fakes.gemini_wire import FakeGemini, fake_gemini, fake_vector
from tests.harness import RunningGateway, run_gateway

__all__ = ["fake_gemini"]

GEMINI_KEY = "AIza-gemini-secret-42"
FAMILIES = ["gem", "vx"]
CHAT_MODELS = [
    "echo",
    "tools",
    "gemini-3-flash-tools",
    "gemini-2.5-pro",
    "fail-400",
    "fail-429-retryafter-9",
    "fail-500",
    "slow-3000",
    "cut-3",
    "safety",
]
USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "ping the gateway"}]
TOOLS: list[ChatCompletionToolParam] = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} lookup",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    for name in ("get_weather", "get_time")
]


def _service_account(path: Path, token_uri: str) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "proj-e2e",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "gateway@proj-e2e.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }
    path.write_text(json.dumps(info))
    return path


def _config(fake: FakeGemini, key_file: Path, credentials_file: Path) -> str:
    models = "\n".join(f"  - {{name: {m}}}" for m in CHAT_MODELS)
    return f"""
name: gem
type: provider-account
provider: gemini
base_url: {fake.base_url}
api_key_file: {key_file}
timeout_seconds: 1
models:
{models}
  - {{name: text-embedding-004, kind: embedding}}
---
name: vx
type: provider-account
provider: vertex
base_url: {fake.base_url}
project: proj-e2e
location: us-central1
credentials_file: {credentials_file}
timeout_seconds: 1
models:
{models}
  - {{name: text-embedding-005, kind: embedding}}
  - {{name: gemini-embedding-001, kind: embedding}}
"""


@pytest.fixture(scope="module")
def gemini_gateway(
    fake_gemini: FakeGemini, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    secrets = tmp_path_factory.mktemp("gemini-secrets")
    key_file = secrets / "gemini.key"
    key_file.write_text(GEMINI_KEY + "\n")
    credentials = _service_account(secrets / "sa.json", f"{fake_gemini.base_url}/token")
    with run_gateway(_config(fake_gemini, key_file, credentials)) as running:
        yield running


@pytest.fixture
async def sdk(gemini_gateway: RunningGateway) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=gemini_gateway.openai_base_url, api_key=gemini_gateway.admin_key, max_retries=0
    ) as client:
        yield client


@pytest.mark.parametrize("family", FAMILIES)
async def test_non_streaming(sdk: openai.AsyncOpenAI, fake_gemini: FakeGemini, family: str) -> None:
    completion = await sdk.chat.completions.with_raw_response.create(
        model=f"{family}/echo",
        messages=[{"role": "system", "content": "be brief"}, *USER],
        temperature=0.2,
        max_tokens=50,
    )
    parsed = completion.parse()
    assert parsed.choices[0].message.content == "echo: ping the gateway"
    assert parsed.choices[0].finish_reason == "stop"
    assert parsed.model == f"{family}/echo"
    assert completion.headers["x-tfy-resolved-model"] == f"{family}/echo"
    assert parsed.usage is not None
    assert (parsed.usage.prompt_tokens, parsed.usage.completion_tokens) == (5, 4)
    sent = fake_gemini.last_request("echo")
    assert sent.body["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 50}
    assert sent.body["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    if family == "gem":
        assert sent.headers["x-goog-api-key"] == GEMINI_KEY
    else:
        assert sent.path.startswith("/v1/projects/proj-e2e/locations/us-central1/")
        assert sent.headers["authorization"] == f"Bearer {fake_gemini.issued_tokens[-1]}"


@pytest.mark.parametrize("family", FAMILIES)
async def test_streaming_with_usage(sdk: openai.AsyncOpenAI, family: str) -> None:
    stream = await sdk.chat.completions.create(
        model=f"{family}/echo",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage, chunks = "", None, None, 0
    async for chunk in stream:
        chunks += 1
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    assert text == "echo: ping the gateway"
    assert chunks > 3
    assert finish == "stop"
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (3, 4, 7)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("stream", [False, True])
# Gemini 3 refuses a function call turn without its thought signature, which a streamed
# call's pieces cannot carry: the gateway sends Google's stand-in.
@pytest.mark.parametrize("model", ["tools", "gemini-3-flash-tools"])
async def test_parallel_tool_calls_round_trip(
    sdk: openai.AsyncOpenAI, fake_gemini: FakeGemini, family: str, stream: bool, model: str
) -> None:
    names: dict[int, str] = {}
    ids: dict[int, str] = {}
    arguments: dict[int, str] = {}
    if stream:
        chunks = await sdk.chat.completions.create(
            model=f"{family}/{model}", messages=USER, tools=TOOLS, stream=True
        )
        finish = None
        async for chunk in chunks:
            if not chunk.choices:
                continue
            finish = chunk.choices[0].finish_reason or finish
            for delta in chunk.choices[0].delta.tool_calls or []:
                if delta.id:
                    ids[delta.index] = delta.id
                if delta.function and delta.function.name:
                    names[delta.index] = delta.function.name
                if delta.function and delta.function.arguments:
                    arguments[delta.index] = (
                        arguments.get(delta.index, "") + delta.function.arguments
                    )
    else:
        completion = await sdk.chat.completions.create(
            model=f"{family}/{model}", messages=USER, tools=TOOLS
        )
        finish = completion.choices[0].finish_reason
        for index, call in enumerate(completion.choices[0].message.tool_calls or []):
            ids[index] = call.id
            names[index] = call.function.name  # type: ignore[union-attr]
            arguments[index] = call.function.arguments  # type: ignore[union-attr]
    assert finish == "tool_calls"
    assert names == {0: "get_weather", 1: "get_time"}
    assert [json.loads(arguments[i]) for i in (0, 1)] == [
        {"query": "ping the gateway", "call": 0},
        {"query": "ping the gateway", "call": 1},
    ]
    assert len(set(ids.values())) == 2

    messages: list[ChatCompletionMessageParam] = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": ids[i],
                    "type": "function",
                    "function": {"name": names[i], "arguments": arguments[i]},
                }
                for i in (0, 1)
            ],
        },
        {"role": "tool", "tool_call_id": ids[0], "content": "sunny"},
        {"role": "tool", "tool_call_id": ids[1], "content": "noon"},
    ]
    answer = await sdk.chat.completions.create(
        model=f"{family}/{model}", messages=messages, tools=TOOLS
    )
    assert answer.choices[0].message.content == "tool results: get_weather=sunny; get_time=noon"
    sent = fake_gemini.last_request(model).body["contents"]
    assert [c["role"] for c in sent] == ["user", "model", "user"]
    if model.startswith("gemini-3"):
        # The client sent the calls back without the signature: Google's stand-in goes.
        assert sent[1]["parts"][0]["thoughtSignature"] == "skip_thought_signature_validator"
    assert [p["functionResponse"]["name"] for p in sent[2]["parts"]] == ["get_weather", "get_time"]


@pytest.mark.parametrize("family", FAMILIES)
async def test_image_and_json_schema(
    sdk: openai.AsyncOpenAI, fake_gemini: FakeGemini, family: str
) -> None:
    schema = {"type": "object", "properties": {"echo": {"type": "string"}}}
    completion = await sdk.chat.completions.create(
        model=f"{family}/echo",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "describe"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
                ],
            }
        ],
        response_format={"type": "json_schema", "json_schema": {"name": "e", "schema": schema}},
    )
    content = completion.choices[0].message.content
    assert content is not None
    assert json.loads(content) == {"echo": "describe [image/jpeg 6 bytes]"}
    config = fake_gemini.last_request("echo").body["generationConfig"]
    assert config == {"responseMimeType": "application/json", "responseJsonSchema": schema}


@pytest.mark.parametrize("family", FAMILIES)
async def test_safety_stop_is_content_filter(sdk: openai.AsyncOpenAI, family: str) -> None:
    completion = await sdk.chat.completions.create(model=f"{family}/safety", messages=USER)
    assert completion.choices[0].finish_reason == "content_filter"


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(
    ("name", "error", "status"),
    [
        ("fail-400", openai.BadRequestError, 400),
        ("fail-429-retryafter-9", openai.RateLimitError, 429),
        ("fail-500", openai.InternalServerError, 502),
        ("slow-3000", openai.InternalServerError, 504),
    ],
)
async def test_upstream_failures(
    sdk: openai.AsyncOpenAI, family: str, name: str, error: type[openai.APIStatusError], status: int
) -> None:
    for stream in (False, True):
        with pytest.raises(error) as raised:
            await sdk.chat.completions.create(
                model=f"{family}/{name}", messages=USER, stream=stream
            )
        assert raised.value.status_code == status
        body = raised.value.body
        assert isinstance(body, dict)
        assert f"{family}/{name}" in body["message"]
        assert GEMINI_KEY not in json.dumps(body)
        if status == 400:
            assert f"fake failure 400 for {name}" in body["message"]
        if status == 429:
            assert raised.value.response.headers["retry-after"] == "9"


@pytest.mark.parametrize("family", FAMILIES)
async def test_stream_cut_ends_with_an_error(sdk: openai.AsyncOpenAI, family: str) -> None:
    stream = await sdk.chat.completions.create(model=f"{family}/cut-3", messages=USER, stream=True)
    received = []

    async def consume() -> None:
        async for chunk in stream:
            received.append(chunk)

    with pytest.raises(openai.APIError, match="cut-3"):
        await consume()
    assert received


@pytest.mark.parametrize("family", FAMILIES)
async def test_labels_and_reasoning_effort(
    sdk: openai.AsyncOpenAI, fake_gemini: FakeGemini, family: str
) -> None:
    completion = await sdk.chat.completions.create(
        model=f"{family}/gemini-2.5-pro",
        messages=USER,
        reasoning_effort="minimal",
        extra_body={"labels": {"Team": "Search"}},
    )
    assert completion.choices[0].finish_reason == "stop"
    sent = fake_gemini.last_request("gemini-2.5-pro").body
    assert sent["generationConfig"] == {"thinkingConfig": {"thinkingBudget": 128}}
    assert sent.get("labels") == ({"team": "search"} if family == "vx" else None)


async def test_unsupported_parameter_is_a_400_naming_it(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        await sdk.chat.completions.create(model="gem/echo", messages=USER, logprobs=True)
    assert "logprobs" in str(raised.value)


@pytest.mark.parametrize(
    ("family", "model"), [("gem", "text-embedding-004"), ("vx", "text-embedding-005")]
)
async def test_embeddings(sdk: openai.AsyncOpenAI, family: str, model: str) -> None:
    answer = await sdk.embeddings.create(
        model=f"{family}/{model}",
        input=["alpha beta", "gamma"],
        dimensions=6,
        encoding_format="float",
    )
    assert [len(d.embedding) for d in answer.data] == [6, 6]
    assert answer.data[0].embedding != answer.data[1].embedding
    assert answer.usage.prompt_tokens > 0
    again = await sdk.embeddings.create(
        model=f"{family}/{model}", input=["alpha beta"], dimensions=6
    )
    assert again.data[0].embedding == pytest.approx(answer.data[0].embedding)


async def test_vertex_gemini_embedding_one_text_a_call(
    sdk: openai.AsyncOpenAI, fake_gemini: FakeGemini
) -> None:
    before = len(fake_gemini.requests_for("gemini-embedding-001"))
    texts = [f"text {i}" for i in range(12)]
    answer = await sdk.embeddings.create(model="vx/gemini-embedding-001", input=texts)
    assert [d.index for d in answer.data] == list(range(12))
    assert [d.embedding for d in answer.data] == [
        pytest.approx(fake_vector(text, 8)) for text in texts
    ]
    sent = fake_gemini.requests_for("gemini-embedding-001")[before:]
    assert [len(r.body["instances"]) for r in sent] == [1] * 12
    assert answer.usage.prompt_tokens == 24
