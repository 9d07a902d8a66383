"""The anthropic SDK against the whole gateway (core + facade over real sockets, mock provider):
the Messages API served by every configured chat model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types import MessageParam, ToolParam

from tests.conftest import MOCK_CONFIG
from tests.harness import RunningGateway, run_gateway

MODEL = "mock-main/echo"
USER: list[MessageParam] = [{"role": "user", "content": "hello from claude"}]
WEATHER: ToolParam = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sdk(gateway: RunningGateway) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=gateway.http_url, api_key=gateway.admin_key, max_retries=0
    ) as client:
        yield client


def _x_api_key_client(base_url: str, key: str) -> anthropic.Anthropic:
    """A client that sends its key as `x-api-key`, as Claude Code and older SDKs do."""
    return anthropic.Anthropic(
        base_url=base_url, api_key=None, default_headers={"x-api-key": key}, max_retries=0
    )


@pytest.mark.parametrize("prefix", ["", "/api/inference/anthropic"])
def test_create_under_every_base_url_with_x_api_key(gateway: RunningGateway, prefix: str) -> None:
    with _x_api_key_client(gateway.http_url + prefix, gateway.admin_key) as client:
        raw = client.messages.with_raw_response.create(
            model=MODEL,
            max_tokens=64,
            system="be brief",
            messages=USER,
            extra_headers={"x-request-id": "claude-1", "anthropic-beta": "whatever-2025"},
        )
    message = raw.parse()
    assert message.type == "message"
    assert message.role == "assistant"
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].type == "text"
    assert message.content[0].text == "hello from claude"
    assert message.stop_reason == "end_turn"
    assert message.model == MODEL
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0
    assert message.id == "msg_claude-1"
    assert raw.request_id == raw.headers["x-request-id"] == "claude-1"
    assert raw.headers["x-tfy-resolved-model"] == MODEL


def test_bearer_auth(gateway: RunningGateway) -> None:
    with anthropic.Anthropic(
        base_url=gateway.http_url, auth_token=gateway.admin_key, max_retries=0
    ) as client:
        message = client.messages.create(model=MODEL, max_tokens=16, messages=USER)
    assert message.content[0].type == "text"


def test_stream_text(sdk: anthropic.Anthropic) -> None:
    with sdk.messages.stream(
        model=MODEL,
        max_tokens=64,
        messages=USER,
        extra_headers={"x-tfy-metadata": '{"application": "claude-test"}'},
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1
    assert "".join(pieces) == "hello from claude"
    assert final.content[0].type == "text"
    assert final.content[0].text == "hello from claude"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0
    assert final.usage.input_tokens > 0
    assert final.id.startswith("msg_")


def test_what_claude_code_sends_is_served(sdk: anthropic.Anthropic) -> None:
    # Claude Code 2.1: thinking on every call, system notes between turns, context edits.
    messages: Any = [
        {"role": "user", "content": "first"},
        {"role": "system", "content": "a note between turns"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "what claude code sends"},
    ]
    with sdk.messages.stream(
        model=MODEL,
        max_tokens=64,
        messages=messages,
        thinking={"type": "adaptive"},  # type: ignore[typeddict-item]
        extra_body={"context_management": {"edits": [{"type": "clear_thinking_20251015"}]}},
    ) as stream:
        final = stream.get_final_message()
    assert [block.type for block in final.content] == ["text"]
    assert final.content[0].text == "what claude code sends"  # type: ignore[union-attr]


def test_a_tool_round_trip(sdk: anthropic.Anthropic) -> None:
    asked = sdk.messages.create(
        model=MODEL,
        max_tokens=64,
        tools=[WEATHER],
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
    )
    assert asked.stop_reason == "tool_use"
    [call] = asked.content
    assert call.type == "tool_use"
    assert call.id.startswith("toolu_")
    assert (call.name, call.input) == ("get_weather", {"city": "mock"})
    answered = sdk.messages.create(
        model=MODEL,
        max_tokens=64,
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": asked.content},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}],
            },
        ],
    )
    assert answered.stop_reason == "end_turn"
    assert answered.content[0].type == "text"
    assert answered.content[0].text == "sunny"


def test_a_streamed_tool_round_trip(sdk: anthropic.Anthropic) -> None:
    with sdk.messages.stream(
        model=MODEL,
        max_tokens=64,
        tools=[WEATHER],
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
    ) as stream:
        kinds = [event.type for event in stream]
        asked = stream.get_final_message()
    assert "input_json" in kinds  # the SDK's event for an input_json_delta
    assert asked.stop_reason == "tool_use"
    [call] = asked.content
    assert call.type == "tool_use"
    assert (call.name, call.input) == ("get_weather", {"city": "mock"})
    with sdk.messages.stream(
        model=MODEL,
        max_tokens=64,
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": asked.content},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "rain"}],
            },
        ],
    ) as stream:
        assert stream.get_final_text() == "rain"


def test_images_base64_and_url(sdk: anthropic.Anthropic) -> None:
    pixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    message = sdk.messages.create(
        model=MODEL,
        max_tokens=64,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": pixel},
                    },
                    {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
                    {"type": "text", "text": "what is this?"},
                ],
            }
        ],
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "what is this?"  # the mock echoes the text parts


def test_count_tokens(sdk: anthropic.Anthropic) -> None:
    short = sdk.messages.count_tokens(model=MODEL, messages=USER)
    longer = sdk.messages.count_tokens(
        model=MODEL, system="x" * 400, messages=USER, tools=[WEATHER]
    )
    assert 0 < short.input_tokens < longer.input_tokens
    with pytest.raises(anthropic.NotFoundError):
        sdk.messages.count_tokens(model="mock-main/nope", messages=USER)


def test_a_wrong_key_is_authentication_error(gateway: RunningGateway) -> None:
    for client in (
        anthropic.Anthropic(base_url=gateway.http_url, api_key="sk-wrong", max_retries=0),
        _x_api_key_client(gateway.http_url, "sk-wrong"),
    ):
        with client, pytest.raises(anthropic.AuthenticationError) as refused:
            client.messages.create(model=MODEL, max_tokens=16, messages=USER)
        assert refused.value.request_id is not None
        error = refused.value.body
        assert isinstance(error, dict)
        assert error["type"] == "error"
        assert error["error"]["type"] == "authentication_error"


@pytest.mark.parametrize("body", [b"{not json", b'{"model": "x", "messages": []}'])
def test_the_key_is_checked_before_the_body(gateway: RunningGateway, body: bytes) -> None:
    url = f"{gateway.http_url}/v1/messages"
    for headers in ({"x-api-key": "sk-wrong"}, {"authorization": "Bearer sk-wrong"}, {}):
        answer = httpx.post(url, content=body, headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["type"] == "authentication_error"
        assert answer.headers["request-id"] == answer.headers["x-request-id"]
    good = httpx.post(url, content=body, headers={"x-api-key": gateway.admin_key})
    assert good.status_code == 400
    assert good.json()["error"]["type"] == "invalid_request_error"


def test_an_unknown_model_is_not_found(sdk: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        sdk.messages.create(model="mock-main/nope", max_tokens=16, messages=USER)
    assert missing.value.request_id is not None


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        # The SDK sizes its default timeout by max_tokens: a timeout of our own skips that.
        ({"max_tokens": anthropic.NOT_GIVEN, "timeout": 30}, "max_tokens"),
        ({"extra_body": {"thinking": {"type": "deep"}}}, "thinking.type"),
        ({"extra_body": {"mcp_servers": []}}, "mcp_servers"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type"),
        ({"extra_headers": {"x-tfy-metadata": "not json"}}, "X-TFY-METADATA"),
    ],
)
def test_what_cannot_be_served_is_bad_request(
    sdk: anthropic.Anthropic, fields: dict[str, Any], named: str
) -> None:
    request: dict[str, Any] = {"model": MODEL, "max_tokens": 16, "messages": USER, **fields}
    with pytest.raises(anthropic.BadRequestError) as refused:
        sdk.messages.create(**request)
    error = refused.value.body
    assert isinstance(error, dict)
    assert error["error"]["type"] == "invalid_request_error"
    assert named.lower() in error["error"]["message"].lower()


def test_a_provider_failure_keeps_its_status_and_shape(sdk: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.RateLimitError) as limited:
        sdk.messages.create(
            model=MODEL,
            max_tokens=16,
            messages=USER,
            extra_body={"mock": {"status": 429, "message": "slow down", "retry_after": 2}},
        )
    assert limited.value.response.headers["retry-after"] == "2"
    assert limited.value.request_id is not None


def test_a_stream_cut_after_it_started_is_an_error_event(sdk: anthropic.Anthropic) -> None:
    with (
        pytest.raises(anthropic.APIStatusError) as cut,
        sdk.messages.stream(
            model=MODEL, max_tokens=64, messages=USER, extra_body={"mock": {"cut_after": 1}}
        ) as stream,
    ):
        stream.get_final_message()
    error = cut.value.body
    assert isinstance(error, dict)
    assert error["type"] == "error"
    assert error["error"]["type"] == "api_error"


def test_a_messages_call_is_logged(tmp_path: Path) -> None:
    with run_gateway(MOCK_CONFIG, data_dir=tmp_path) as gateway:
        with anthropic.Anthropic(
            base_url=gateway.http_url, api_key=gateway.admin_key, max_retries=0
        ) as client:
            raw = client.messages.with_raw_response.create(
                model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "log me"}]
            )
        request_id = raw.request_id
    assert request_id is not None
    # Stopping drained the log pipeline into the store; a new gateway over it reads it back.
    with run_gateway(MOCK_CONFIG, data_dir=tmp_path) as gateway:
        record = httpx.get(
            f"{gateway.http_url}/api/svc/v1/llm-gateway/requests/{request_id}",
            headers={"authorization": f"Bearer {gateway.admin_key}"},
        )
    assert record.status_code == 200, record.text
    assert record.json()["id"] == request_id
    assert "log me" in record.text


def test_the_stream_is_anthropics_event_sequence(gateway: RunningGateway) -> None:
    body = {"model": MODEL, "max_tokens": 16, "stream": True, "messages": USER}
    with httpx.stream(
        "POST",
        f"{gateway.http_url}/api/inference/anthropic/v1/messages",
        json=body,
        headers={"x-api-key": gateway.admin_key, "anthropic-version": "2023-06-01"},
    ) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert answer.headers["request-id"] == answer.headers["x-request-id"]
        lines = [line for line in answer.iter_lines() if line.startswith("event: ")]
    names = [line.removeprefix("event: ") for line in lines]
    deltas = names.count("content_block_delta")
    assert deltas > 1
    assert names == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * deltas,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
