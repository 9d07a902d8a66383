"""OpenAI Responses API JSON <-> the gateway's chat types: requests in, responses and stream
events out, each checked against openai-python's own types, and what must survive each way
(function call ids and arguments, content order, usage)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from codec import (
    CodecError,
    ResponseEvents,
    chat_params_to_json,
    response_from_chat_result,
    responses_request_from_json,
)
from codec.responses_response import usage_to_responses
from codec.values import struct_from_dict
from gateway.v1 import chat_pb2
from tests.codec.strategies import json_values

MODEL = "mock-main/echo"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": True,
}
EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


def chat(**fields: Any) -> dict[str, Any]:
    """The chat request a Responses request becomes, as core receives it."""
    body = {"model": MODEL, "input": "hi", **fields}
    return chat_params_to_json(responses_request_from_json(body).params)


def result(
    text: str = "",
    calls: tuple[tuple[str, str, str], ...] = (),
    finish: chat_pb2.FinishReason.ValueType = chat_pb2.FINISH_REASON_STOP,
    usage: chat_pb2.Usage | None = None,
) -> chat_pb2.ChatResult:
    message = chat_pb2.Message(role=chat_pb2.ROLE_ASSISTANT)
    if text or not calls:
        message.text = text
    for call_id, name, arguments in calls:
        call = message.tool_calls.add(id=call_id, type="function")
        call.function.name = name
        call.function.arguments = arguments
    choice = chat_pb2.Choice(index=0, message=message, finish_reason=finish)
    return chat_pb2.ChatResult(choices=[choice], usage=usage or chat_pb2.Usage())


def answer(res: chat_pb2.ChatResult, **fields: Any) -> dict[str, Any]:
    echo = responses_request_from_json({"model": MODEL, "input": "hi", **fields}).echo
    return response_from_chat_result(
        res, echo, response_id="resp_abc", model=MODEL, created_at=1_700_000_000
    )


# --- requests ---------------------------------------------------------------------------


def test_a_string_input_is_one_user_message() -> None:
    assert chat() == {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}


def test_the_settings_become_their_chat_twins() -> None:
    out = chat(
        instructions="be brief",
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
        max_output_tokens=64,
        temperature=0.5,
        top_p=0.9,
        user="ana",
        store=False,
        metadata={"k": "v"},
        text={"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}},
        reasoning={"effort": "high"},
        seed=7,
    )
    assert out == {
        "model": MODEL,
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "The weather in a city.",
                    "parameters": WEATHER["parameters"],
                    "strict": True,
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "max_tokens": 64,
        "temperature": 0.5,
        "top_p": 0.9,
        "user": "ana",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "w", "schema": {"type": "object"}},
        },
        "reasoning_effort": "high",
        "seed": 7,  # unknown keys travel on, as on the chat route
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ({"format": {"type": "text"}}, None),
        ({"format": {"type": "json_object"}}, {"type": "json_object"}),
        (None, None),
    ],
)
def test_text_formats(text: Any, expected: Any) -> None:
    assert chat(text=text).get("response_format") == expected


def test_tool_choice_and_parallel_calls_need_tools() -> None:
    assert "tool_choice" not in chat(tool_choice="required", parallel_tool_calls=True)
    assert chat(tools=[WEATHER], tool_choice="none")["tool_choice"] == "none"


def test_items_become_messages_in_order() -> None:
    items = [
        {"role": "developer", "content": "rules"},
        {
            "role": "user",
            "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}],
        },
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "c", "annotations": []}],
        },
        {
            "type": "function_call",
            "call_id": "c1",
            "name": "f",
            "arguments": '{"x":1}',
            "id": "fc_1",
        },
        {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "function_call_output", "call_id": "c1", "output": "one"},
        {
            "type": "function_call_output",
            "call_id": "c2",
            "output": [{"type": "input_text", "text": "two"}],
        },
        {"type": "function_call", "call_id": "c3", "name": "h", "arguments": "[]"},
        {
            "role": "user",
            "content": [{"type": "input_image", "image_url": "https://x/y.png", "detail": "low"}],
        },
    ]
    assert chat(input=items)["messages"] == [
        {"role": "developer", "content": "rules"},
        {"role": "user", "content": "ab"},
        {
            "role": "assistant",
            "content": "c",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'}},
                {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "one"},
        {"role": "tool", "tool_call_id": "c2", "content": "two"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c3", "type": "function", "function": {"name": "h", "arguments": "[]"}}
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}}
            ],
        },
    ]


def test_an_assistant_refusal_is_kept() -> None:
    item = {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]}
    assert chat(input=[item, {"role": "user", "content": "why"}])["messages"][0] == {
        "role": "assistant",
        "content": "",
        "refusal": "no",
    }


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": None}, "model"),
        ({"input": 3}, "input"),
        ({"input": [{"type": "reasoning", "summary": []}]}, "input"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "input[0].content[0].type",
        ),
        (
            {"input": [{"role": "system", "content": [{"type": "input_image", "image_url": "u"}]}]},
            "input[0].content[0].type",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input[0].content[0].image_url",
        ),
        (
            {"input": [{"type": "function_call_output", "call_id": "c", "output": 3}]},
            "input[0].output",
        ),
        (
            {"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": {}}]},
            "input[0].arguments",
        ),
        ({"tools": [{"type": "function"}]}, "tools[0].name"),
        ({"tools": [{"type": "custom", "name": "x"}]}, "tools[0].type"),
        ({"tool_choice": "any"}, "tool_choice"),
        ({"tool_choice": {"type": "allowed_tools", "tools": []}}, "tool_choice"),
        ({"text": {"format": {"type": "json_schema", "schema": {}}}}, "text.format.name"),
        ({"instructions": ["x"]}, "instructions"),
        ({"reasoning": {"generate_summary": "auto"}}, "reasoning.generate_summary"),
        ({"context_management": [{"type": "compaction"}]}, "context_management"),
        ({"background": "yes"}, "background"),
        ({"parallel_tool_calls": "yes", "tools": [WEATHER]}, "parallel_tool_calls"),
        ({"parallel_tool_calls": "yes"}, "parallel_tool_calls"),
        ({"max_tool_calls": "3"}, "max_tool_calls"),
        ({"tools": {"type": "function"}}, "tools"),
    ],
)
def test_refusals_name_the_field(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(CodecError) as caught:
        responses_request_from_json({"model": MODEL, "input": "hi", **fields})
    assert caught.value.param == param


field_names = st.sampled_from(
    [
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "text",
        "reasoning",
        "metadata",
        "max_output_tokens",
        "include",
        "truncation",
        "background",
        "parallel_tool_calls",
    ]
)
item_values = st.fixed_dictionaries(
    {"type": st.sampled_from(["message", "function_call", "function_call_output"]) | json_values},
    optional={
        "role": st.sampled_from(["user", "assistant", "system"]) | json_values,
        "content": json_values
        | st.lists(st.dictionaries(st.sampled_from(["type", "text", "image_url"]), json_values)),
        "call_id": json_values,
        "name": json_values,
        "arguments": json_values,
        "output": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(field_names, json_values | st.lists(item_values, max_size=3), max_size=4))
def test_any_json_is_translated_or_refused_naming_a_field(fields: dict[str, Any]) -> None:
    refused: CodecError | None = None
    try:
        responses_request_from_json({"model": MODEL, "input": "hi", **fields})
    except CodecError as error:
        refused = error
    assert refused is None or refused.param  # a refusal always names the field at fault


def test_the_echo_has_the_responses_defaults() -> None:
    echo = responses_request_from_json({"model": MODEL, "input": "hi"}).echo
    assert echo["tool_choice"] == "auto"
    assert echo["text"] == {"format": {"type": "text"}}
    assert (echo["tools"], echo["metadata"], echo["parallel_tool_calls"]) == ([], {}, True)
    assert (echo["previous_response_id"], echo["truncation"]) == (None, "disabled")


# --- answers ----------------------------------------------------------------------------


def test_a_text_answer_is_one_message_item() -> None:
    usage = chat_pb2.Usage(input_tokens=5, output_tokens=3, total_tokens=8)
    out = answer(result("hello", usage=usage), metadata={"k": "v"}, instructions="sys")
    parsed = Response.model_validate(out)  # the SDK's own type, strictly
    assert parsed.output_text == "hello"
    assert parsed.id == "resp_abc"
    assert parsed.output[0].id == "msg_abc"
    assert (parsed.status, parsed.metadata, parsed.instructions) == ("completed", {"k": "v"}, "sys")
    assert out["usage"] == {
        "input_tokens": 5,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 3,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 8,
    }


def test_tool_calls_are_function_call_items_after_the_text() -> None:
    calls = (("call_9", "get_weather", '{"city":"Oslo"}'), ("", "f", ""))
    out = answer(result("let me see", calls, chat_pb2.FINISH_REASON_TOOL_CALLS), tools=[WEATHER])
    Response.model_validate(out)
    assert [item["type"] for item in out["output"]] == ["message", "function_call", "function_call"]
    assert out["output"][1] == {
        "type": "function_call",
        "id": "fc_abc_0",
        "call_id": "call_9",
        "name": "get_weather",
        "arguments": '{"city":"Oslo"}',
        "status": "completed",
    }
    assert out["output"][2]["call_id"] == "call_abc_1"  # made up when the provider sent none
    assert out["status"] == "completed"


@pytest.mark.parametrize(
    ("finish", "reason"),
    [
        (chat_pb2.FINISH_REASON_LENGTH, "max_output_tokens"),
        (chat_pb2.FINISH_REASON_CONTENT_FILTER, "content_filter"),
    ],
)
def test_a_cut_answer_is_incomplete(finish: chat_pb2.FinishReason.ValueType, reason: str) -> None:
    out = answer(result("partial", finish=finish))
    Response.model_validate(out)
    assert (out["status"], out["incomplete_details"]) == ("incomplete", {"reason": reason})
    assert out["output"][0]["status"] == "incomplete"


def test_a_refusal_is_a_refusal_part() -> None:
    res = result("")
    res.choices[0].message.extras.CopyFrom(struct_from_dict({"refusal": "I can't"}))
    out = answer(res)
    Response.model_validate(out)
    assert out["output"][0]["content"] == [{"type": "refusal", "refusal": "I can't"}]


counts = st.integers(0, 2**40)


@settings(max_examples=100, deadline=None)
@given(counts, counts, st.none() | counts, st.none() | counts)
def test_usage_survives(
    inputs: int, outputs: int, cached: int | None, reasoning: int | None
) -> None:
    usage = chat_pb2.Usage(
        input_tokens=inputs, output_tokens=outputs, total_tokens=inputs + outputs
    )
    details: dict[str, Any] = {}
    if cached is not None:
        details["prompt_tokens_details"] = {"cached_tokens": cached}
    if reasoning is not None:
        details["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    usage.extras.CopyFrom(struct_from_dict(details))
    out = usage_to_responses(usage)
    assert (out["input_tokens"], out["output_tokens"], out["total_tokens"]) == (
        inputs,
        outputs,
        inputs + outputs,
    )
    assert out["input_tokens_details"]["cached_tokens"] == (cached or 0)
    assert out["output_tokens_details"]["reasoning_tokens"] == (reasoning or 0)


# --- what survives a round trip ------------------------------------------------------------

ids = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=12)
arguments = st.text(max_size=30)  # the model's JSON text, valid or not, kept verbatim
calls_strategy = st.lists(
    st.tuples(ids, st.sampled_from(["f", "get_weather", "t"]), arguments),
    max_size=4,
    unique_by=lambda c: c[0],
)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=20), calls_strategy)
def test_output_fed_back_as_input_is_the_same_assistant_turn(
    text: str, calls: list[tuple[str, str, str]]
) -> None:
    out = answer(result(text, tuple(calls), chat_pb2.FINISH_REASON_TOOL_CALLS))
    followed = [{"role": "user", "content": "q"}, *out["output"]]
    followed += [
        {"type": "function_call_output", "call_id": call_id, "output": f"r{i}"}
        for i, (call_id, _, _) in enumerate(calls)
    ]
    messages = chat(input=followed)["messages"]
    turn = messages[1]
    assert turn["role"] == "assistant"
    if text or not calls:
        assert turn["content"] == text
    assert [
        (c["id"], c["function"]["name"], c["function"]["arguments"])
        for c in turn.get("tool_calls", [])
    ] == calls
    assert [(m["tool_call_id"], m["content"]) for m in messages[2:]] == [
        (call_id, f"r{i}") for i, (call_id, _, _) in enumerate(calls)
    ]


items = st.lists(
    st.one_of(
        st.builds(lambda t: ("user", t), st.text(max_size=8)),
        st.builds(lambda t: ("assistant", t), st.text(max_size=8)),
        st.builds(lambda c: ("call", c), ids),
        st.builds(lambda c: ("output", c), ids),
    ),
    min_size=1,
    max_size=8,
)


def _item(kind: str, value: str) -> dict[str, Any]:
    if kind in ("user", "assistant"):
        return {"role": kind, "content": value}
    if kind == "call":
        return {"type": "function_call", "call_id": value, "name": "f", "arguments": value}
    return {"type": "function_call_output", "call_id": value, "output": value}


@settings(max_examples=200, deadline=None)
@given(items)
def test_content_order_survives(sequence: list[tuple[str, str]]) -> None:
    messages = chat(input=[_item(kind, value) for kind, value in sequence])["messages"]
    seen: list[tuple[str, str]] = []
    for message in messages:
        if message["role"] == "tool":
            seen.append(("output", message["tool_call_id"]))
            continue
        if message["content"] is not None:
            seen.append((message["role"], message["content"]))
        seen.extend(("call", call["id"]) for call in message.get("tool_calls", []))
    assert seen == sequence


# --- stream events --------------------------------------------------------------------------


def _stream(deltas: list[chat_pb2.ChatDelta], final: chat_pb2.ChatResult) -> list[dict[str, Any]]:
    echo = responses_request_from_json({"model": MODEL, "input": "hi"}).echo
    events = ResponseEvents(echo, response_id="resp_abc", model=MODEL, created_at=1)
    out = events.start()
    for delta in deltas:
        out += events.delta(delta)
    out += events.finish(final)
    for name, payload in out:
        assert payload["type"] == name
        EVENTS.validate_python(payload)  # the SDK's own event types, strictly
    return [payload for _, payload in out]


def _split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=20), calls_strategy, st.lists(st.integers(0, 40), max_size=4))
def test_streamed_pieces_assemble_to_the_unary_answer(
    text: str, calls: list[tuple[str, str, str]], cuts: list[int]
) -> None:
    deltas = [chat_pb2.ChatDelta(content=piece) for piece in _split(text, cuts)]
    for index, (call_id, name, args) in enumerate(calls):
        pieces = _split(args, cuts) or [""]
        deltas.append(
            chat_pb2.ChatDelta(
                tool_calls=[
                    chat_pb2.ToolCallDelta(index=index, id=call_id, name=name, arguments=pieces[0])
                ]
            )
        )
        deltas += [
            chat_pb2.ChatDelta(tool_calls=[chat_pb2.ToolCallDelta(index=index, arguments=p)])
            for p in pieces[1:]
        ]
    final = result(text, tuple(calls), chat_pb2.FINISH_REASON_TOOL_CALLS)
    events = _stream(deltas, final)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] == "response.completed"
    streamed = events[-1]["response"]
    unary = answer(final)
    assert streamed["output"] == unary["output"]
    assert "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta") == text
    for index, (_, _, args) in enumerate(calls):
        item_id = f"fc_abc_{index}"
        pieces = [
            e["delta"]
            for e in events
            if e["type"] == "response.function_call_arguments.delta" and e["item_id"] == item_id
        ]
        assert "".join(pieces) == args


def test_an_answer_without_deltas_is_streamed_whole() -> None:
    events = _stream([], result("all at once", (("c1", "f", "{}"),)))
    kinds = [e["type"] for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "all at once"
    assert events[-1]["response"]["output"][1]["call_id"] == "c1"


def test_what_no_delta_brought_is_streamed_at_the_end() -> None:
    final = result("text", (("c1", "f", "{}"),), chat_pb2.FINISH_REASON_TOOL_CALLS)
    events = _stream([chat_pb2.ChatDelta(content="text")], final)
    output = events[-1]["response"]["output"]
    assert output == answer(final)["output"]
    added = [e["item"]["type"] for e in events if e["type"] == "response.output_item.added"]
    assert added == ["message", "function_call"]


def test_an_empty_answer_is_an_empty_message() -> None:
    events = _stream([chat_pb2.ChatDelta(role=chat_pb2.ROLE_ASSISTANT)], result(""))
    assert "response.output_text.delta" not in [e["type"] for e in events]
    assert events[-1]["response"]["output"] == answer(result(""))["output"]


def test_a_cut_stream_ends_incomplete() -> None:
    events = _stream(
        [chat_pb2.ChatDelta(content="par")], result("par", finish=chat_pb2.FINISH_REASON_LENGTH)
    )
    last = events[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_a_failure_is_response_failed_with_the_output_so_far() -> None:
    echo = responses_request_from_json({"model": MODEL, "input": "hi"}).echo
    events = ResponseEvents(echo, response_id="resp_abc", model=MODEL, created_at=1)
    events.start()
    events.delta(chat_pb2.ChatDelta(content="so far"))
    ((name, payload),) = events.fail("server_error", "provider failed")
    EVENTS.validate_python(payload)
    assert name == "response.failed"
    response = payload["response"]
    assert (response["status"], response["error"]) == (
        "failed",
        {"code": "server_error", "message": "provider failed"},
    )
    assert response["output"][0]["content"][0]["text"] == "so far"


def test_other_choices_and_bare_roles_send_nothing() -> None:
    echo = responses_request_from_json({"model": MODEL, "input": "hi"}).echo
    events = ResponseEvents(echo, response_id="resp_abc", model=MODEL, created_at=1)
    assert events.delta(chat_pb2.ChatDelta(choice_index=1, content="x")) == []
    assert events.delta(chat_pb2.ChatDelta(role=chat_pb2.ROLE_ASSISTANT)) == []
    assert json.dumps(events.start())  # plain JSON
