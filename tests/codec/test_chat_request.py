"""Client request JSON <-> ChatParams: the lossless round trip and every rejection."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings

from codec import CodecError, chat_params_from_json, chat_params_to_json
from gateway.v1 import chat_pb2
from tests.codec.strategies import chat_requests

USER = {"role": "user", "content": "hi"}


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "openai-main/gpt-4o", "messages": [USER], **fields}


@settings(max_examples=200, deadline=None)
@given(chat_requests)
def test_request_round_trip_is_lossless(request: dict[str, Any]) -> None:
    assert chat_params_to_json(chat_params_from_json(request)) == request


@settings(max_examples=50, deadline=None)
@given(chat_requests)
def test_request_survives_the_wire(request: dict[str, Any]) -> None:
    # The facade and core talk over gRPC: serialization must not lose anything either.
    params = chat_params_from_json(request)
    wire = chat_pb2.ChatParams.FromString(params.SerializeToString())
    assert chat_params_to_json(wire) == request


def test_typical_request_is_typed() -> None:
    params = chat_params_from_json(
        body(
            messages=[
                {"role": "system", "content": "be brief"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://x.test/a.png", "detail": "low"},
                        },
                    ],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "look", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
            ],
            tools=[
                {"type": "function", "function": {"name": "look", "parameters": {"type": "object"}}}
            ],
            tool_choice={"type": "function", "function": {"name": "look"}},
            temperature=0,
            max_tokens=100,
            stop=["END"],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    system, user, assistant, tool = params.messages
    assert system.role == chat_pb2.ROLE_SYSTEM
    assert system.text == "be brief"
    assert user.parts.parts[0].text.text == "what is this?"
    assert user.parts.parts[1].image_url.url == "https://x.test/a.png"
    assert user.parts.parts[1].image_url.detail == "low"
    assert assistant.WhichOneof("content") is None
    assert dict(assistant.extras) == {"content": None}
    assert assistant.tool_calls[0].function.arguments == "{}"
    assert tool.tool_call_id == "call_1"
    assert params.tools[0].function.parameters["type"] == "object"
    assert params.tool_choice.function_name == "look"
    assert params.HasField("temperature")
    assert params.temperature == 0.0
    assert params.max_tokens == 100
    assert list(params.stop) == ["END"]
    # Never modeled: `stream` and `stream_options` ride in extras, as the client sent them.
    assert set(params.extras.keys()) == {"stream", "stream_options"}
    assert params.extras["stream"] is True


def test_alternative_forms_go_to_extras() -> None:
    params = chat_params_from_json(
        body(
            stop="END",
            temperature=None,
            tools=[],
            response_format={"type": "grammar", "grammar": "root ::= x"},
        )
    )
    assert not params.stop
    assert not params.tools
    assert not params.HasField("temperature")
    assert not params.HasField("response_format")
    assert params.extras["stop"] == "END"
    assert set(params.extras.keys()) == {"stop", "temperature", "tools", "response_format"}


def test_unknown_tool_choice_goes_to_other() -> None:
    choice = {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}}
    params = chat_params_from_json(body(tool_choice=choice))
    assert params.tool_choice.WhichOneof("choice") == "other"
    assert chat_params_to_json(params)["tool_choice"] == choice


@pytest.mark.parametrize(("value", "mode"), [("none", 1), ("auto", 2), ("required", 3)])
def test_tool_choice_modes(value: str, mode: int) -> None:
    assert chat_params_from_json(body(tool_choice=value)).tool_choice.mode == mode


def test_json_schema_response_format_is_typed() -> None:
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "x", "schema": {"type": "object"}, "strict": True},
    }
    params = chat_params_from_json(body(response_format=response_format))
    assert params.response_format.type == chat_pb2.RESPONSE_FORMAT_TYPE_JSON_SCHEMA
    assert params.response_format.json_schema.name == "x"
    assert params.response_format.json_schema.strict is True
    assert chat_params_to_json(params)["response_format"] == response_format


def test_integral_float_reads_as_int() -> None:
    params = chat_params_from_json(body(max_tokens=5.0, seed=-(2**63)))
    assert params.max_tokens == 5
    assert params.seed == -(2**63)


def test_core_edits_win_over_extras() -> None:
    params = chat_params_from_json(body(temperature=None))
    params.temperature = 0.5  # e.g. a route default filled in by core
    assert chat_params_to_json(params)["temperature"] == 0.5


def m(**fields: Any) -> dict[str, Any]:
    return body(messages=[USER, {"role": "assistant", **fields}])


@pytest.mark.parametrize(
    ("request_body", "message", "param"),
    [
        ({"messages": [USER]}, "`model` is required", "model"),
        (body(model=""), "`model` is required", "model"),
        (body(model=None), "`model` is required", "model"),
        (body(model=4), "`model` must be a string, got integer", "model"),
        ({"model": "m"}, "`messages` is required", "messages"),
        (body(messages=None), "`messages` is required", "messages"),
        (body(messages=[]), "`messages` must contain at least one message", "messages"),
        (body(messages="hi"), "`messages` must be an array, got string", "messages"),
        (body(messages=["hi"]), "`messages[0]` must be an object, got string", "messages[0]"),
        (body(messages=[{"content": "x"}]), "`messages[0].role` is required", "messages[0].role"),
        (
            body(messages=[{"role": "robot", "content": "x"}]),
            "`messages[0].role` must be one of system, user, assistant, tool, developer",
            "messages[0].role",
        ),
        (
            m(content=5),
            "`messages[1].content` must be a string, an array of content parts or null,"
            " got integer",
            "messages[1].content",
        ),
        (
            m(content=["x"]),
            "`messages[1].content[0]` must be an object, got string",
            "messages[1].content[0]",
        ),
        (
            m(content=[{"type": "text", "text": 1}]),
            "`messages[1].content[0].text` must be a string, got integer",
            "messages[1].content[0].text",
        ),
        (
            m(content=[{"type": "image_url", "image_url": 3}]),
            "`messages[1].content[0].image_url` must be an object, got integer",
            "messages[1].content[0].image_url",
        ),
        (
            m(content=[{"type": "image_url", "image_url": {"url": "u", "detail": 1}}]),
            "`messages[1].content[0].image_url.detail` must be a string, got integer",
            "messages[1].content[0].image_url.detail",
        ),
        (m(name=1), "`messages[1].name` must be a string, got integer", "messages[1].name"),
        (
            m(tool_calls={}),
            "`messages[1].tool_calls` must be an array, got object",
            "messages[1].tool_calls",
        ),
        (
            m(tool_calls=[{"id": "c", "function": {"name": "f", "arguments": {}}}]),
            "`messages[1].tool_calls[0].function.arguments` must be a string, got object",
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            m(tool_calls=[1]),
            "`messages[1].tool_calls[0]` must be an object, got integer",
            "messages[1].tool_calls[0]",
        ),
        (body(temperature="hot"), "`temperature` must be a number, got string", "temperature"),
        (body(top_p=True), "`top_p` must be a number, got boolean", "top_p"),
        (body(max_tokens=1.5), "`max_tokens` must be an integer, got number", "max_tokens"),
        (body(max_tokens=True), "`max_tokens` must be an integer, got boolean", "max_tokens"),
        (body(seed=2**63), "`seed` is out of range", "seed"),
        (body(temperature=10**400), "`temperature` is out of range", "temperature"),
        (body(stop=5), "`stop` must be an array, got integer", "stop"),
        (body(stop=["a", 1]), "`stop[1]` must be a string, got integer", "stop[1]"),
        (body(tools={}), "`tools` must be an array, got object", "tools"),
        (body(tools=["f"]), "`tools[0]` must be an object, got string", "tools[0]"),
        (
            body(tools=[{"type": "function", "function": "f"}]),
            "`tools[0].function` must be an object, got string",
            "tools[0].function",
        ),
        (
            body(tools=[{"type": "function", "function": {}}]),
            "`tools[0].function.name` is required",
            "tools[0].function.name",
        ),
        (
            body(tools=[{"function": {"name": 1}}]),
            "`tools[0].function.name` must be a string, got integer",
            "tools[0].function.name",
        ),
        (
            body(tools=[{"function": {"name": "f", "parameters": []}}]),
            "`tools[0].function.parameters` must be an object, got array",
            "tools[0].function.parameters",
        ),
        (
            body(response_format="json"),
            "`response_format` must be an object, got string",
            "response_format",
        ),
        (
            body(response_format={"type": "json_schema", "json_schema": {"name": 1}}),
            "`response_format.json_schema.name` must be a string, got integer",
            "response_format.json_schema.name",
        ),
        (body(user=1), "`user` must be a string, got integer", "user"),
        (
            body(parallel_tool_calls="yes"),
            "`parallel_tool_calls` must be a boolean, got string",
            "parallel_tool_calls",
        ),
        (body(extra=object()), "`body` holds a value that is not JSON", None),
    ],
)
def test_invalid_requests(request_body: dict[str, Any], message: str, param: str | None) -> None:
    with pytest.raises(CodecError) as caught:
        chat_params_from_json(request_body)
    assert (caught.value.message, caught.value.param) == (message, param)


def test_body_must_be_an_object() -> None:
    with pytest.raises(CodecError, match="must be a JSON object"):
        chat_params_from_json([])  # type: ignore[arg-type]
