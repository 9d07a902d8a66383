"""The real openai SDK -> facade -> gRPC -> core -> each provider family over real HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from gateway.v1.chat_pb2 import ROLE_USER, ChatParams, Message
from gateway_client import GatewayClient, UpstreamUnavailableError
from tests.e2e.conftest import PROVIDER_KEY
from tests.fakes.upstream import FakeUpstream
from tests.harness import RunningGateway

FAMILIES = ["oai", "azure", "claude"]
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


def model_of(family: str, name: str = "echo") -> str:
    return "azure/gpt-az" if family == "azure" else f"{family}/{name}"


@pytest.fixture
async def sdk(upstream_gateway: RunningGateway) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=upstream_gateway.openai_base_url, api_key=upstream_gateway.admin_key, max_retries=0
    ) as client:
        yield client


@pytest.mark.parametrize("family", FAMILIES)
def test_sync_sdk_non_streaming(upstream_gateway: RunningGateway, family: str) -> None:
    client = openai.OpenAI(
        base_url=f"{upstream_gateway.http_url}/v1",
        api_key=upstream_gateway.admin_key,
        max_retries=0,
    )
    raw = client.chat.completions.with_raw_response.create(model=model_of(family), messages=USER)
    completion = raw.parse()
    assert completion.choices[0].message.content == "echo: ping the gateway"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == model_of(family)
    assert raw.headers["x-tfy-resolved-model"] == model_of(family)
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0
    assert (
        completion.usage.total_tokens
        == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


@pytest.mark.parametrize("family", FAMILIES)
async def test_streaming_with_usage(sdk: openai.AsyncOpenAI, family: str) -> None:
    stream = await sdk.chat.completions.create(
        model=model_of(family), messages=USER, stream=True, stream_options={"include_usage": True}
    )
    text, finish, usage = "", None, None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    assert text == "echo: ping the gateway"
    assert finish == "stop"
    assert usage is not None
    assert usage.completion_tokens > 0


async def test_usage_is_requested_upstream_even_when_client_did_not_ask(
    sdk: openai.AsyncOpenAI, fake_upstream: FakeUpstream
) -> None:
    stream = await sdk.chat.completions.create(model="oai/echo", messages=USER, stream=True)
    chunks = [chunk async for chunk in stream]
    assert all(chunk.usage is None for chunk in chunks)
    sent = fake_upstream.last_request("echo").body
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("family", ["oai", "claude"])
async def test_parallel_tool_calls_non_streaming(sdk: openai.AsyncOpenAI, family: str) -> None:
    completion = await sdk.chat.completions.create(
        model=model_of(family), messages=USER, tools=TOOLS
    )
    calls = completion.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]  # type: ignore[union-attr]
    assert completion.choices[0].finish_reason == "tool_calls"
    for call in calls:
        json.loads(call.function.arguments)  # type: ignore[union-attr]


@pytest.mark.parametrize("family", ["oai", "claude"])
async def test_parallel_tool_calls_streaming_keep_indexes(
    sdk: openai.AsyncOpenAI, family: str
) -> None:
    stream = await sdk.chat.completions.create(
        model=model_of(family), messages=USER, tools=TOOLS, stream=True
    )
    names: dict[int, str] = {}
    arguments: dict[int, str] = {}
    async for chunk in stream:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            if delta.function and delta.function.name:
                names[delta.index] = delta.function.name
            if delta.function and delta.function.arguments:
                arguments[delta.index] = arguments.get(delta.index, "") + delta.function.arguments
    assert names == {0: "get_weather", 1: "get_time"}
    assert all(isinstance(json.loads(a), dict) for a in arguments.values())


async def test_tool_results_reach_anthropic_as_tool_result_blocks(
    sdk: openai.AsyncOpenAI, fake_upstream: FakeUpstream
) -> None:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
    ]
    completion = await sdk.chat.completions.create(
        model="claude/echo", messages=messages, tools=TOOLS
    )
    assert completion.choices[0].message.content == "tool results: toolu_1=sunny"
    sent = fake_upstream.last_request("echo").body
    assert sent["system"] == "be brief"
    assert sent["messages"][1]["content"][0] == {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "get_weather",
        "input": {"city": "Oslo"},
    }
    assert sent["messages"][2]["content"][0]["type"] == "tool_result"
    assert sent["messages"][2]["content"][0]["tool_use_id"] == "toolu_1"


async def test_unmodeled_parameters_reach_openai_compatible_upstream(
    sdk: openai.AsyncOpenAI, fake_upstream: FakeUpstream
) -> None:
    await sdk.chat.completions.create(
        model="oai/echo",
        messages=USER,
        temperature=0.3,
        logit_bias={"42": 5},
        extra_body={"vendor_option": {"depth": 2}, "top_k": 7},
    )
    sent = fake_upstream.last_request("echo").body
    assert sent["model"] == "echo"
    assert sent["temperature"] == 0.3
    assert sent["logit_bias"] == {"42": 5}
    assert sent["vendor_option"] == {"depth": 2}
    assert sent["top_k"] == 7
    assert fake_upstream.last_request("echo").headers["authorization"] == f"Bearer {PROVIDER_KEY}"


@pytest.mark.parametrize("family", ["oai", "azure"])
async def test_embeddings_float_and_base64_agree(sdk: openai.AsyncOpenAI, family: str) -> None:
    model = f"{family}/emb"
    as_base64 = await sdk.embeddings.create(model=model, input=["alpha beta", "gamma"])
    as_float = await sdk.embeddings.create(
        model=model, input=["alpha beta", "gamma"], encoding_format="float"
    )
    assert len(as_base64.data) == 2
    assert as_base64.data[0].embedding == pytest.approx(as_float.data[0].embedding)
    assert as_float.model == model


@pytest.mark.parametrize("family", ["oai", "claude"])
@pytest.mark.parametrize(
    ("name", "error", "status"),
    [
        ("fail-400", openai.BadRequestError, 400),
        ("fail-401", openai.AuthenticationError, 401),
        ("fail-503", openai.InternalServerError, 502),
        ("drop", openai.InternalServerError, 502),
        ("slow-3000", openai.InternalServerError, 504),
    ],
)
async def test_upstream_failures_map_to_statuses(
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
        assert PROVIDER_KEY not in json.dumps(body)


async def test_refused_connection_is_502(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as raised:
        await sdk.chat.completions.create(model="down/echo", messages=USER)
    assert raised.value.status_code == 502
    assert "down/echo" in str(raised.value)


@pytest.mark.parametrize("family", ["oai", "claude"])
async def test_stream_cut_mid_answer_ends_with_error_not_done(
    sdk: openai.AsyncOpenAI, family: str
) -> None:
    stream = await sdk.chat.completions.create(model=f"{family}/cut-5", messages=USER, stream=True)
    received = []

    async def consume() -> None:
        async for chunk in stream:
            received.append(chunk)

    with pytest.raises(openai.APIError, match="cut-5"):
        await consume()
    assert received


@pytest.mark.parametrize("family", ["oai", "claude"])
async def test_client_disconnect_cancels_the_upstream_request(
    sdk: openai.AsyncOpenAI, fake_upstream: FakeUpstream, family: str
) -> None:
    before = fake_upstream.client_disconnects("hold-4")
    stream = await sdk.chat.completions.create(
        model=f"{family}-hold/hold-4", messages=USER, stream=True
    )
    first = await anext(aiter(stream))
    assert first.choices
    await stream.close()
    # The fake upstream counts the gateway closing its connection: facade -> gRPC cancel -> core.
    assert await asyncio.to_thread(fake_upstream.wait_for_disconnects, "hold-4", before + 1)


@pytest.mark.parametrize("family", FAMILIES)
async def test_grpc_client_reaches_every_family(
    upstream_gateway: RunningGateway, family: str
) -> None:
    params = ChatParams(
        model=model_of(family), messages=[Message(role=ROLE_USER, text="over grpc")]
    )
    async with GatewayClient(
        upstream_gateway.grpc_target, api_key=upstream_gateway.admin_key
    ) as client:
        answer = await client.route(params)
        assert answer.result.choices[0].message.text == "echo: over grpc"
        assert answer.resolved_model == model_of(family)
        async with client.stream_route(params) as stream:
            events = [event async for event in stream]
        assert events[-1].result.choices[0].message.text == "echo: over grpc"
        assert events[-1].result.usage.output_tokens > 0
        with pytest.raises(UpstreamUnavailableError) as raised:
            await client.route(
                ChatParams(
                    model=f"{family}/fail-503" if family != "azure" else "oai/fail-503",
                    messages=params.messages,
                )
            )
        assert raised.value.http_status == 502


async def test_an_http_caller_hanging_up_cancels_the_upstream_call(
    upstream_gateway: RunningGateway, fake_upstream: FakeUpstream
) -> None:
    model = "unary-hangup-slow-20000"
    async with httpx.AsyncClient(base_url=upstream_gateway.openai_base_url) as http:
        call = asyncio.create_task(
            http.post(
                "/chat/completions",
                json={
                    "model": f"oai-hold/{model}",
                    "messages": [{"role": "user", "content": "hi"}],
                },
                headers={"authorization": f"Bearer {upstream_gateway.admin_key}"},
            )
        )
        assert await fake_upstream.received(model)
        call.cancel()
    assert await fake_upstream.disconnected(model)
