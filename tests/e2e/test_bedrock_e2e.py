"""The real openai SDK -> facade -> core -> BedrockProvider -> the fake Bedrock runtime, every
request SigV4-signed with credentials the gateway found in the environment on its first call."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from tests.fakes.bedrock_wire import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    FakeBedrock,
    isolate_aws_env,
    run_fake_bedrock,
)
from tests.harness import RunningGateway, run_gateway

CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
TITAN = "amazon.titan-embed-text-v2:0"
COHERE = "cohere.embed-english-v3"
COHERE_MULTILINGUAL = "cohere.embed-multilingual-v3"
PROFILE_ARN = (
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku:0"
)
USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "ping bedrock"}]
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
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(32))).decode()


@pytest.fixture(scope="module")
def fake_bedrock() -> Iterator[FakeBedrock]:
    with run_fake_bedrock() as fake:
        yield fake


@pytest.fixture(scope="module")
def bedrock_gateway(fake_bedrock: FakeBedrock) -> Iterator[RunningGateway]:
    config = f"""
name: aws
type: provider-account
provider: bedrock
region: {REGION}
base_url: {fake_bedrock.base_url}
timeout_seconds: 5
models:
  - {{name: "{CLAUDE}"}}
  - {{name: "{PROFILE_ARN}"}}
  - {{name: tools-model}}
  - {{name: image-model}}
  - {{name: cache-model}}
  - {{name: throttle}}
  - {{name: invalid}}
  - {{name: unavailable}}
  - {{name: midstream}}
  - {{name: no-usage}}
  - {{name: "{TITAN}", kind: embedding}}
  - {{name: "{COHERE}", kind: embedding}}
  - {{name: "{COHERE_MULTILINGUAL}", kind: embedding}}
"""
    # Credentials are looked up on the first call, not at start-up: the environment holds
    # them for as long as the gateway runs.
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate_aws_env(monkeypatch)
        with run_gateway(config) as running:
            yield running
    assert fake_bedrock.bad_signatures == 0


@pytest.fixture
async def sdk(bedrock_gateway: RunningGateway) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=bedrock_gateway.openai_base_url, api_key=bedrock_gateway.admin_key, max_retries=0
    ) as client:
        yield client


async def test_non_streaming(sdk: openai.AsyncOpenAI, fake_bedrock: FakeBedrock) -> None:
    raw = await sdk.chat.completions.with_raw_response.create(
        model=f"aws/{CLAUDE}", messages=USER, max_tokens=100, temperature=0.5
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "echo: ping bedrock"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == f"aws/{CLAUDE}"
    assert raw.headers["x-tfy-resolved-model"] == f"aws/{CLAUDE}"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    sent = fake_bedrock.last_request(CLAUDE)
    assert sent.operation == "converse"
    assert sent.body["inferenceConfig"] == {"maxTokens": 100, "temperature": 0.5}
    assert sent.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
    assert SECRET_KEY not in json.dumps(sent.headers)


async def test_an_inference_profile_arn_is_one_signed_path_segment(
    sdk: openai.AsyncOpenAI, fake_bedrock: FakeBedrock
) -> None:
    completion = await sdk.chat.completions.create(model=f"aws/{PROFILE_ARN}", messages=USER)
    assert completion.choices[0].message.content == "echo: ping bedrock"
    sent = fake_bedrock.last_request(PROFILE_ARN)
    assert sent.raw_path == (
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile"
        "%2Fus.anthropic.claude-3-5-haiku%3A0/converse"
    )


async def test_streaming_with_usage(sdk: openai.AsyncOpenAI, fake_bedrock: FakeBedrock) -> None:
    stream = await sdk.chat.completions.create(
        model="aws/cache-model",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage = "", None, None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    assert text == "echo: ping bedrock"
    assert finish == "stop"
    assert usage is not None
    assert usage.completion_tokens > 0
    assert fake_bedrock.last_request("cache-model").operation == "converse-stream"


@pytest.mark.parametrize("stream", [False, True])
async def test_parallel_tool_calls_and_the_round_trip(
    sdk: openai.AsyncOpenAI, fake_bedrock: FakeBedrock, stream: bool
) -> None:
    names: dict[int, str] = {}
    ids: dict[int, str] = {}
    arguments: dict[int, str] = {}
    if stream:
        chunks = await sdk.chat.completions.create(
            model="aws/tools-model", messages=USER, tools=TOOLS, stream=True
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
            model="aws/tools-model", messages=USER, tools=TOOLS
        )
        finish = completion.choices[0].finish_reason
        for i, call in enumerate(completion.choices[0].message.tool_calls or []):
            ids[i] = call.id
            names[i] = call.function.name  # type: ignore[union-attr]
            arguments[i] = call.function.arguments  # type: ignore[union-attr]
    assert finish == "tool_calls"
    assert names == {0: "get_weather", 1: "get_time"}
    assert ids == {0: "tooluse_0", 1: "tooluse_1"}
    assert [json.loads(arguments[i]) for i in (0, 1)] == [{"call": 0}, {"call": 1}]

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
        model="aws/tools-model", messages=messages, tools=TOOLS
    )
    assert answer.choices[0].message.content == "results: sunny; noon"
    sent = fake_bedrock.last_request("tools-model").body["messages"]
    assert [b["toolUse"]["toolUseId"] for b in sent[1]["content"]] == ["tooluse_0", "tooluse_1"]
    assert [b["toolResult"]["toolUseId"] for b in sent[2]["content"]] == ["tooluse_0", "tooluse_1"]


async def test_a_single_forced_tool_call(sdk: openai.AsyncOpenAI) -> None:
    completion = await sdk.chat.completions.create(
        model="aws/tools-model",
        messages=USER,
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    calls = completion.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_time"]  # type: ignore[union-attr]


async def test_an_image(sdk: openai.AsyncOpenAI, fake_bedrock: FakeBedrock) -> None:
    completion = await sdk.chat.completions.create(
        model="aws/image-model",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            }
        ],
    )
    assert completion.choices[0].message.content == "images: png/40 bytes"
    image = fake_bedrock.last_request("image-model").body["messages"][0]["content"][1]["image"]
    assert image == {"format": "png", "source": {"bytes": PNG}}


async def test_an_image_link_is_refused_before_bedrock(
    sdk: openai.AsyncOpenAI, fake_bedrock: FakeBedrock
) -> None:
    before = len(fake_bedrock.requests)
    with pytest.raises(openai.BadRequestError) as raised:
        await sdk.chat.completions.create(
            model="aws/image-model",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
                    ],
                }
            ],
        )
    assert "only as data: URLs" in str(raised.value)
    assert len(fake_bedrock.requests) == before


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("name", "error", "status", "said"),
    [
        ("throttle", openai.RateLimitError, 429, "ThrottlingException"),
        ("invalid", openai.BadRequestError, 400, "The provided model identifier is invalid."),
        ("unavailable", openai.InternalServerError, 502, "ServiceUnavailableException"),
    ],
)
async def test_errors_and_throttling(
    sdk: openai.AsyncOpenAI,
    name: str,
    error: type[openai.APIStatusError],
    status: int,
    said: str,
    stream: bool,
) -> None:
    with pytest.raises(error) as raised:
        await sdk.chat.completions.create(model=f"aws/{name}", messages=USER, stream=stream)
    assert raised.value.status_code == status
    assert said in str(raised.value)
    assert f"aws/{name}" in str(raised.value)
    if name == "throttle":
        assert raised.value.response.headers.get("retry-after") == "2"


async def test_an_exception_frame_mid_stream_ends_the_stream_with_an_error(
    sdk: openai.AsyncOpenAI,
) -> None:
    stream = await sdk.chat.completions.create(model="aws/midstream", messages=USER, stream=True)
    received = []

    async def consume() -> None:
        async for chunk in stream:
            received.append(chunk)

    with pytest.raises(openai.APIError, match="ThrottlingException in the stream"):
        await consume()
    assert any(c.choices and c.choices[0].delta.content for c in received)


async def test_embeddings(sdk: openai.AsyncOpenAI, fake_bedrock: FakeBedrock) -> None:
    titan = await sdk.embeddings.create(
        model=f"aws/{TITAN}", input=["alpha beta", "gamma"], dimensions=256
    )
    assert [d.index for d in titan.data] == [0, 1]
    assert [len(d.embedding) for d in titan.data] == [256, 256]
    assert titan.usage.prompt_tokens == 3
    assert titan.model == f"aws/{TITAN}"
    as_float = await sdk.embeddings.create(
        model=f"aws/{TITAN}", input=["alpha beta", "gamma"], dimensions=256, encoding_format="float"
    )
    assert titan.data[0].embedding == pytest.approx(as_float.data[0].embedding)
    cohere = await sdk.embeddings.create(model=f"aws/{COHERE}", input=["one", "two", "three"])
    assert len(cohere.data) == 3
    assert fake_bedrock.last_request(COHERE).body["texts"] == ["one", "two", "three"]


@pytest.mark.parametrize("stream", [False, True])
async def test_summing_up_a_tool_loop_without_tools(
    sdk: openai.AsyncOpenAI, fake_bedrock: FakeBedrock, stream: bool
) -> None:
    # A client ends its tool loop: the call (with empty text beside it), a tool that
    # printed nothing, and no tools declared any more, in the hope of a text answer.
    messages: list[ChatCompletionMessageParam] = [
        *USER,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "tooluse_0",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "tooluse_0", "content": ""},
    ]
    if stream:
        chunks = await sdk.chat.completions.create(
            model="aws/tools-model", messages=messages, tool_choice="none", stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
    else:
        completion = await sdk.chat.completions.create(
            model="aws/tools-model", messages=messages, tool_choice="none"
        )
        text = completion.choices[0].message.content or ""
    assert text == "results: (empty)"
    sent = fake_bedrock.last_request("tools-model").body
    assert sent["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"
    assert "toolChoice" not in sent["toolConfig"]


async def test_a_user_id_bedrock_tags_refuse_is_made_fit(
    sdk: openai.AsyncOpenAI, fake_bedrock: FakeBedrock
) -> None:
    completion = await sdk.chat.completions.create(
        model=f"aws/{CLAUDE}", messages=USER, user="user:42 <ops> ✓"
    )
    assert completion.choices[0].message.content == "echo: ping bedrock"
    assert fake_bedrock.last_request(CLAUDE).body["requestMetadata"] == {"user": "user:42 _ops_ _"}


async def test_a_stream_without_usage_still_reports_usage(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.chat.completions.create(
        model="aws/no-usage",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
    )
    usage = None
    async for chunk in stream:
        usage = chunk.usage or usage
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0


async def test_a_large_cohere_batch_with_its_usage(
    sdk: openai.AsyncOpenAI, fake_bedrock: FakeBedrock
) -> None:
    texts = [f"passage {i}" for i in range(150)]
    embedded = await sdk.embeddings.create(model=f"aws/{COHERE_MULTILINGUAL}", input=texts)
    assert [d.index for d in embedded.data] == list(range(150))
    assert embedded.usage.prompt_tokens == 2 * 150  # the fake counts words
    sent = [r for r in fake_bedrock.requests if r.model == COHERE_MULTILINGUAL]
    assert [len(r.body["texts"]) for r in sent] == [96, 54]
