"""`POST /responses` with the real openai SDK against the whole gateway (mock provider; the
fake OpenAI upstream where a model must stop at its token limit).

The mock answers with the last user (or tool) message's text, and calls every tool it is
offered unless the conversation ends with a tool result.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai.types.responses import FunctionToolParam, ResponseInputParam
from pydantic import BaseModel

from tests.conftest import MOCK_CONFIG
from tests.fakes.upstream import FakeUpstream
from tests.harness import RunningGateway, run_gateway

MODEL = "mock-main/echo"
WEATHER: FunctionToolParam = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": False,
}


@pytest.fixture
def sdk(gateway: RunningGateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=gateway.openai_base_url, api_key=gateway.admin_key, max_retries=0
    ) as client:
        yield client


@pytest.fixture(scope="module")
def upstream_gateway(
    fake_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    """A gateway whose `oai/echo` is the fake OpenAI server (it honours `max_tokens`)."""
    key_file = tmp_path_factory.mktemp("secrets") / "provider.key"
    key_file.write_text("sk-provider\n")
    config = f"""
name: oai
type: provider-account
provider: openai
base_url: {fake_upstream.base_url}/v1
api_key_file: {key_file}
models: [{{name: echo}}]
"""
    with run_gateway(config) as running:
        yield running


@pytest.mark.parametrize("suffix", ["/api/inference/openai", "/api/inference/openai/v1", "/v1"])
def test_a_string_input_under_every_base_url(gateway: RunningGateway, suffix: str) -> None:
    with openai.OpenAI(
        base_url=gateway.http_url + suffix, api_key=gateway.admin_key, max_retries=0
    ) as client:
        raw = client.responses.with_raw_response.create(
            model=MODEL,
            input="hello from the sdk",
            metadata={"team": "search"},
            temperature=0.5,
            top_p=0.9,
            user="ana",
            store=False,
            extra_headers={"x-request-id": "resp-1"},
        )
    response = raw.parse()
    # The caller's id is reused by retries: the record's own id (`<id>.<suffix>`) names it.
    log_id = raw.headers["x-tfy-log-id"]
    assert log_id.startswith("resp-1.")
    assert (response.id, response.object, response.status) == (
        f"resp_{log_id}",
        "response",
        "completed",
    )
    assert response.model == MODEL
    assert response.created_at > 0
    assert response.output_text == "hello from the sdk"
    (message,) = response.output
    assert message.type == "message"
    assert (message.role, message.status, message.id) == ("assistant", "completed", f"msg_{log_id}")
    (part,) = message.content
    assert part.type == "output_text"
    assert part.annotations == []
    assert response.metadata == {"team": "search"}
    assert (response.temperature, response.top_p) == (0.5, 0.9)
    assert (response.tool_choice, response.tools, response.parallel_tool_calls) == (
        "auto",
        [],
        True,
    )
    assert response.previous_response_id is None
    assert response.incomplete_details is None
    assert response.error is None
    usage = response.usage
    assert usage is not None
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.output_tokens > 0
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0
    assert raw.headers["x-request-id"] == "resp-1"
    assert raw.headers["x-tfy-resolved-model"] == MODEL


def test_an_item_list_with_instructions(sdk: openai.OpenAI) -> None:
    items: ResponseInputParam = [
        {"role": "developer", "content": "answer briefly"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "first"}]},
        {"role": "assistant", "content": "an earlier answer"},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "look at"},
                {
                    "type": "input_image",
                    "image_url": "data:image/png;base64,iVBORw0KGgo=",
                    "detail": "low",
                },
            ],
        },
    ]
    response = sdk.responses.create(model=MODEL, input=items, instructions="be kind")
    assert response.output_text == "look at"  # the mock joins the text parts of the last turn
    assert response.instructions == "be kind"


def test_a_function_call_round_trip(sdk: openai.OpenAI) -> None:
    asked = sdk.responses.create(
        model=MODEL, input="weather in Paris?", tools=[WEATHER], tool_choice="required"
    )
    assert asked.status == "completed"
    (call,) = asked.output
    assert call.type == "function_call"
    assert (call.name, json.loads(call.arguments), call.status) == (
        "get_weather",
        {"city": "mock"},
        "completed",
    )
    assert call.call_id
    assert call.id is not None
    assert call.id.startswith("fc_")
    assert asked.output_text == ""
    assert asked.tools[0].type == "function"
    assert asked.tool_choice == "required"

    conversation: ResponseInputParam = [{"role": "user", "content": "weather in Paris?"}]
    conversation += [item.model_dump(exclude_none=True) for item in asked.output]  # type: ignore[misc]
    conversation.append(
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}
    )
    answered = sdk.responses.create(model=MODEL, input=conversation, tools=[WEATHER])
    assert answered.output_text == "sunny"
    assert [item.type for item in answered.output] == ["message"]


def test_a_named_tool_choice(sdk: openai.OpenAI) -> None:
    other: FunctionToolParam = {**WEATHER, "name": "get_time"}
    response = sdk.responses.create(
        model=MODEL,
        input="what time is it",
        tools=[WEATHER, other],
        tool_choice={"type": "function", "name": "get_time"},
        parallel_tool_calls=False,
    )
    assert [(item.type, getattr(item, "name", None)) for item in response.output] == [
        ("function_call", "get_time")
    ]
    assert response.parallel_tool_calls is False
    assert response.tool_choice.type == "function"  # type: ignore[union-attr]


def test_text_format_json_schema(sdk: openai.OpenAI) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    response = sdk.responses.create(
        model=MODEL,
        input='{"a": "b"}',
        text={"format": {"type": "json_schema", "name": "thing", "schema": schema, "strict": True}},
    )
    assert json.loads(response.output_text) == {"a": "b"}
    assert response.text is not None
    assert response.text.format is not None
    assert response.text.format.type == "json_schema"


class Thing(BaseModel):
    a: str


def test_the_sdks_structured_output_parse(sdk: openai.OpenAI) -> None:
    parsed = sdk.responses.parse(model=MODEL, input='{"a": "b"}', text_format=Thing)
    assert parsed.output_parsed == Thing(a="b")
    with sdk.responses.stream(model=MODEL, input='{"a": "c"}', text_format=Thing) as stream:
        final = stream.get_final_response()
    assert final.output_parsed == Thing(a="c")


async def test_the_async_client_streams(gateway: RunningGateway) -> None:
    async with (
        openai.AsyncOpenAI(
            base_url=gateway.openai_base_url, api_key=gateway.admin_key, max_retries=0
        ) as client,
        client.responses.stream(model=MODEL, input="async words") as stream,
    ):
        texts = [
            event.delta async for event in stream if event.type == "response.output_text.delta"
        ]
        final = await stream.get_final_response()
    assert "".join(texts) == final.output_text == "async words"


def test_max_output_tokens_makes_it_incomplete(upstream_gateway: RunningGateway) -> None:
    with openai.OpenAI(
        base_url=upstream_gateway.openai_base_url, api_key=upstream_gateway.admin_key, max_retries=0
    ) as client:
        cut = client.responses.create(
            model="oai/echo", input="one two three four", max_output_tokens=2
        )
        whole = client.responses.create(model="oai/echo", input="one two", max_output_tokens=50)
        with client.responses.stream(
            model="oai/echo", input="one two three four", max_output_tokens=2
        ) as stream:
            kinds = [event.type for event in stream]
    assert (cut.status, cut.incomplete_details and cut.incomplete_details.reason) == (
        "incomplete",
        "max_output_tokens",
    )
    assert cut.max_output_tokens == 2
    assert cut.output[0].status == "incomplete"  # type: ignore[union-attr]
    assert whole.status == "completed"
    assert kinds[-1] == "response.incomplete"


def test_a_stream_with_the_sdks_helper(sdk: openai.OpenAI) -> None:
    with sdk.responses.stream(model=MODEL, input="one two three", instructions="hi") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert deltas == ["one", " two", " three"]
    assert final.output_text == "one two three"
    assert final.status == "completed"
    assert final.instructions == "hi"
    assert final.usage is not None
    assert final.usage.output_tokens > 0


def test_a_streamed_function_call(sdk: openai.OpenAI) -> None:
    with sdk.responses.stream(model=MODEL, input="weather?", tools=[WEATHER]) as stream:
        arguments = [
            event.delta
            for event in stream
            if event.type == "response.function_call_arguments.delta"
        ]
        final = stream.get_final_response()
    (call,) = final.output
    assert call.type == "function_call"
    assert "".join(arguments) == call.arguments == '{"city":"mock"}'
    assert call.name == "get_weather"
    assert call.call_id


def test_create_stream_true_sends_the_events_in_order(sdk: openai.OpenAI) -> None:
    events = list(sdk.responses.create(model=MODEL, input="a b", stream=True))
    assert [event.type for event in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    created, completed = events[0], events[-1]
    assert created.response.status == "in_progress"  # type: ignore[union-attr]
    assert created.response.id == completed.response.id  # type: ignore[union-attr]
    assert completed.response.output_text == "a b"  # type: ignore[union-attr]
    assert completed.response.usage is not None  # type: ignore[union-attr]


def test_the_stream_has_event_lines(gateway: RunningGateway) -> None:
    response = httpx.post(
        f"{gateway.http_url}/v1/responses",
        headers={"authorization": f"Bearer {gateway.admin_key}"},
        json={"model": MODEL, "input": "a", "stream": True},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    blocks = [block for block in response.text.split("\n\n") if block]
    for block in blocks:
        name, data = block.split("\n")
        assert name.removeprefix("event: ") == json.loads(data.removeprefix("data: "))["type"]
    assert "[DONE]" not in response.text


def test_a_stream_cut_ends_with_response_failed(sdk: openai.OpenAI) -> None:
    stream = sdk.responses.create(
        model=MODEL, input="one two three four", stream=True, extra_body={"mock": {"cut_after": 2}}
    )
    events = list(stream)
    assert [event.type for event in events][-3:] == [
        "response.output_text.delta",
        "response.output_text.delta",
        "response.failed",
    ]
    failed = events[-1].response  # type: ignore[union-attr]
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.code == "server_error"
    assert "cut" in failed.error.message


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"tools": [WEATHER, {"type": "file_search", "vector_store_ids": ["v"]}]}, "tools[1].type"),
        ({"tools": [{"type": "computer_use_preview"}]}, "tools[0].type"),
        ({"tools": [{"type": "code_interpreter", "container": {"type": "auto"}}]}, "tools[0].type"),
        ({"tools": [{"type": "image_generation"}]}, "tools[0].type"),
        ({"tools": [{"type": "mcp", "server_label": "x"}]}, "tools[0].type"),
        ({"tool_choice": {"type": "web_search_preview"}}, "tool_choice"),
        ({"background": True}, "background"),
        ({"reasoning": {"effort": "low", "summary": "auto"}}, "reasoning.summary"),
        ({"include": ["file_search_call.results"]}, "include"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"truncation": "auto"}, "truncation"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"previous_response_id": ""}, "previous_response_id"),
        ({"previous_response_id": 7}, "previous_response_id"),
        ({"store": "yes"}, "store"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
            "input[0].content[0].type",
        ),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0].id"),  # not ours
        ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
        (
            {"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
            "input[0].call_id",
        ),
        ({"input": []}, "input"),
        ({"input": None}, "input"),
        ({"text": {"format": {"type": "xml"}}}, "text.format.type"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"metadata": {"a": 1}}, "metadata.a"),
        ({"stream": "yes"}, "stream"),
    ],
)
def test_unsupported_or_bad_fields_are_400_naming_them(
    sdk: openai.OpenAI, fields: dict[str, Any], param: str
) -> None:
    body: dict[str, Any] = {"model": MODEL, "input": "hi", **fields}
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.post("/responses", body=body, cast_to=httpx.Response)
    assert caught.value.status_code == 400
    assert caught.value.param == param
    assert caught.value.request_id is not None


def test_the_sdk_raises_on_built_in_tools(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.responses.create(model=MODEL, input="hi", tools=[{"type": "web_search"}])
    assert caught.value.param == "tools[0].type"


@pytest.mark.parametrize(
    "fields",
    [
        {"truncation": "disabled"},
        {"reasoning": {"effort": "none"}},
        {"background": False},
        {"include": []},
    ],
)
def test_harmless_settings_are_accepted(sdk: openai.OpenAI, fields: dict[str, Any]) -> None:
    response = sdk.post(
        "/responses", body={"model": MODEL, "input": "fine", **fields}, cast_to=httpx.Response
    )
    assert response.json()["output"][0]["content"][0]["text"] == "fine"


@pytest.mark.parametrize("stream", [False, True])
def test_an_unknown_model_is_404(sdk: openai.OpenAI, stream: bool) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.responses.create(model="mock-main/nope", input="hi", stream=stream)
    assert caught.value.code == "model_not_found"
    assert caught.value.request_id is not None


@pytest.mark.parametrize(
    "content", [b"{not json", b'{"model": "m", "tools": [{"type": "web_search"}]}']
)
def test_no_key_is_401_whatever_the_body(gateway: RunningGateway, content: bytes) -> None:
    url = f"{gateway.http_url}/v1/responses"
    keyless = httpx.post(url, content=content)
    wrong = httpx.post(url, content=content, headers={"authorization": "Bearer sk-no"})
    assert (keyless.status_code, wrong.status_code) == (401, 401)
    assert keyless.json()["error"]["code"] == wrong.json()["error"]["code"] == "invalid_api_key"


def test_each_call_is_logged_like_a_chat_call(tmp_path: Path) -> None:
    with (
        run_gateway(MOCK_CONFIG, data_dir=tmp_path) as gateway,
        openai.OpenAI(
            base_url=gateway.openai_base_url, api_key=gateway.admin_key, max_retries=0
        ) as sdk,
    ):
        plain = sdk.responses.create(
            model=MODEL, input="log me", instructions="sys", max_output_tokens=9
        )
        with sdk.responses.stream(model=MODEL, input="streamed") as stream:
            streamed = stream.get_final_response()
        time.sleep(0.1)
    with run_gateway(MOCK_CONFIG, data_dir=tmp_path) as gateway:
        headers = {"authorization": f"Bearer {gateway.admin_key}"}
        path = f"{gateway.http_url}/api/svc/v1/llm-gateway/requests"
        found = httpx.get(f"{path}/{plain.id.removeprefix('resp_')}", headers=headers)
        found_stream = httpx.get(f"{path}/{streamed.id.removeprefix('resp_')}", headers=headers)
    assert found.status_code == 200, found.text
    record = found.json()
    assert (record["model"], record["status"], record["stream"]) == (MODEL, "success", False)
    assert record["request"]["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "log me"},
    ]
    assert record["request"]["max_tokens"] == 9
    assert plain.usage is not None
    assert record["usage"] == {
        "input_tokens": plain.usage.input_tokens,
        "output_tokens": plain.usage.output_tokens,
        "total_tokens": plain.usage.total_tokens,
    }
    assert found_stream.status_code == 200, found_stream.text
    assert found_stream.json()["stream"] is True
