"""The official openai SDK reads what the codec writes (offline, through httpx.MockTransport)."""

from __future__ import annotations

import json
from array import array
from collections.abc import Callable

import httpx
import openai

from codec import (
    chat_params_from_json,
    chat_result_to_json,
    chunk_to_json,
    embed_request_from_json,
    embed_response_to_json,
    finish_chunks_to_json,
    usage_chunk_to_json,
)
from gateway.v1 import chat_pb2, route_service_pb2

IDS = {"completion_id": "chatcmpl-1", "model": "acct/m", "created": 1_700_000_000}


def client(handler: Callable[[httpx.Request], httpx.Response]) -> openai.OpenAI:
    transport = httpx.MockTransport(handler)
    return openai.OpenAI(
        api_key="k",
        base_url="http://gateway.test/v1",
        http_client=httpx.Client(transport=transport),
    )


def result() -> chat_pb2.ChatResult:
    out = chat_pb2.ChatResult(id="chatcmpl-1", model="acct/m")
    out.create_time.seconds = 1_700_000_000
    choice = out.choices.add(index=0, finish_reason=chat_pb2.FINISH_REASON_TOOL_CALLS)
    choice.message.role = chat_pb2.ROLE_ASSISTANT
    call = choice.message.tool_calls.add(id="call_1", type="function")
    call.function.name = "look"
    call.function.arguments = '{"x": 1}'
    out.usage.input_tokens, out.usage.output_tokens, out.usage.total_tokens = 5, 6, 11
    return out


def test_sdk_embeddings_with_default_base64() -> None:
    vector = [0.1, -0.2, 1e-9, 3.5]

    def handler(request: httpx.Request) -> httpx.Response:
        parsed = embed_request_from_json(json.loads(request.content))
        encoding = parsed.extras["encoding_format"]  # the SDK asks for base64 by default
        response = route_service_pb2.EmbedResponse(model=parsed.model)
        for index in range(len(parsed.inputs)):
            response.embeddings.add(index=index, values=vector)
        return httpx.Response(200, json=embed_response_to_json(response, encoding_format=encoding))

    embeddings = client(handler).embeddings.create(model="acct/e", input=["a", "b"])
    expected = array("f", vector).tolist()
    assert [item.embedding for item in embeddings.data] == [expected, expected]


def test_sdk_reads_a_completion() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        chat_params_from_json(json.loads(request.content))
        return httpx.Response(200, json=chat_result_to_json(result()))

    completion = client(handler).chat.completions.create(
        model="acct/m", messages=[{"role": "user", "content": "hi"}]
    )
    message = completion.choices[0].message
    assert completion.choices[0].finish_reason == "tool_calls"
    assert message.content is None
    assert message.tool_calls is not None
    assert message.tool_calls[0].function.arguments == '{"x": 1}'
    assert completion.usage is not None
    assert completion.usage.total_tokens == 11


def test_sdk_reads_a_stream() -> None:
    deltas = [
        chat_pb2.ChatDelta(role=chat_pb2.ROLE_ASSISTANT, content=""),
        chat_pb2.ChatDelta(content="Hel"),
        chat_pb2.ChatDelta(content="lo"),
    ]
    final = result()
    final.choices[0].finish_reason = chat_pb2.FINISH_REASON_STOP
    chunks = [chunk_to_json(delta, **IDS) for delta in deltas]
    chunks += finish_chunks_to_json(final, **IDS)
    chunks.append(usage_chunk_to_json(final, **IDS))
    body = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    stream = client(handler).chat.completions.create(
        model="acct/m",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    received = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in received if chunk.choices)
    assert text == "Hello"
    assert received[-2].choices[0].finish_reason == "stop"
    assert received[-1].usage is not None
    assert received[-1].usage.completion_tokens == 6
