"""Anthropic Messages API JSON <-> the gateway's chat types: requests in, answers and stream
events out, and what must survive each way (tool ids and inputs, content order, usage)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from codec import (
    CodecError,
    MessageEvents,
    chat_params_from_anthropic,
    chat_params_to_json,
    estimate_input_tokens,
    finish_reason_from_str,
    message_from_chat_result,
)
from codec.anthropic_common import (
    finish_reason_from_stop,
    image_source_from_url,
    image_url_from_source,
    stop_reason_from_choice,
    tool_use_id,
    usage_from_anthropic,
    usage_to_anthropic,
)
from codec.anthropic_messages import IMAGE_TOKENS, openai_body_from_anthropic
from codec.values import struct_from_dict, struct_to_dict
from gateway.v1 import chat_pb2
from tests.codec.strategies import json_values

USER = {"role": "user", "content": "hi"}
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "mock-main/echo", "max_tokens": 64, "messages": [USER], **fields}


def openai(**fields: Any) -> dict[str, Any]:
    """The OpenAI chat request a Messages request becomes, as core receives it."""
    return chat_params_to_json(chat_params_from_anthropic(body(**fields)))


# --- requests ---------------------------------------------------------------------------


def test_a_plain_request_becomes_its_chat_twin() -> None:
    out = openai(
        system="be brief",
        temperature=0.5,
        top_p=0.9,
        top_k=40,
        stop_sequences=["END"],
        metadata={"user_id": "u-1"},
    )
    assert out == {
        "model": "mock-main/echo",
        "messages": [{"role": "system", "content": "be brief"}, USER],
        "max_tokens": 64,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop": ["END"],
        "user": "u-1",
    }


def test_fields_openai_has_no_name_for_are_kept_for_anthropic_accounts_only() -> None:
    params = chat_params_from_anthropic(
        body(top_k=40, context_management={"edits": []}, service_tier="auto", future=None)
    )
    assert "top_k" not in chat_params_to_json(params)  # an OpenAI account would refuse it
    assert dict(params.family_extras).keys() == {"anthropic"}
    assert struct_to_dict(params.family_extras["anthropic"]) == {
        "top_k": 40,
        "context_management": {"edits": []},
        "service_tier": "auto",
    }
    assert not chat_params_from_anthropic(body()).family_extras


def test_system_blocks_and_content_blocks_keep_their_order() -> None:
    out = openai(
        system=[
            {"type": "text", "text": "one"},
            {"type": "text", "text": "two", "cache_control": {}},
        ],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "AAA"},
                    },
                    {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
                ],
            }
        ],
    )
    assert out["messages"] == [
        {
            "role": "system",
            "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}],
        },
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},
                {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
            ],
        },
    ]


def test_a_tool_round_trip_becomes_tool_calls_and_tool_messages() -> None:
    out = openai(
        tools=[WEATHER],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
        messages=[
            USER,
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "s"},
                    {"type": "text", "text": "Let me look."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "Oslo"},
                    },
                    {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "is_error": True,
                        "content": [{"type": "text", "text": "no city"}],
                    },
                    {"type": "text", "text": "and?"},
                ],
            },
        ],
    )
    assert out["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city.",
                "parameters": WEATHER["input_schema"],
            },
        }
    ]
    assert (out["tool_choice"], out["parallel_tool_calls"]) == ("auto", False)
    assert out["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Let me look.",  # the thinking block is left out
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                },
                {
                    "id": "toolu_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
        {
            "role": "tool",
            "tool_call_id": "toolu_2",
            "content": [{"type": "text", "text": "Error:"}, {"type": "text", "text": "no city"}],
        },
        {"role": "user", "content": "and?"},
    ]


def test_images_in_a_tool_result_follow_it_in_a_user_turn() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://x.test/s.png"}}
    out = openai(
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t",
                        "content": [{"type": "text", "text": "shot"}, image],
                    }
                ],
            }
        ]
    )
    assert out["messages"] == [
        {"role": "tool", "tool_call_id": "t", "content": "shot"},
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "https://x.test/s.png"}}],
        },
    ]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        (
            {"type": "tool", "name": "get_weather"},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: Any) -> None:
    assert openai(tools=[WEATHER], tool_choice=choice)["tool_choice"] == expected


def test_tool_choice_without_tools_is_dropped_as_openai_refuses_it() -> None:
    assert "tool_choice" not in openai(
        tool_choice={"type": "auto", "disable_parallel_tool_use": True}
    )


def test_text_documents_and_disabled_thinking_are_accepted() -> None:
    document = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "doc"},
    }
    out = openai(thinking={"type": "disabled"}, messages=[{"role": "user", "content": [document]}])
    assert out["messages"] == [{"role": "user", "content": "doc"}]


@pytest.mark.parametrize(
    "thinking", [{"type": "enabled", "budget_tokens": 1024}, {"type": "adaptive"}]
)
def test_thinking_is_accepted_and_applied_to_no_provider(thinking: dict[str, Any]) -> None:
    # What Claude Code sends on every call: refusing it would shut Claude Code out.
    params = chat_params_from_anthropic(body(thinking=thinking))
    assert "thinking" not in openai(thinking=thinking)
    assert "thinking" not in struct_to_dict(params.family_extras["anthropic"])


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"model": None}, "model"),
        ({"messages": []}, "messages"),
        ({"container": "c-1"}, "container"),
        ({"mcp_servers": []}, "mcp_servers"),
        ({"thinking": {"type": "deep"}}, "thinking.type"),
        ({"thinking": "on"}, "thinking"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type"),
        ({"tools": [{"name": "f"}]}, "tools[0].input_schema"),
        ({"tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
        ({"system": [{"type": "image", "source": {}}]}, "system[0].type"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "document", "source": {"type": "base64"}}],
                    }
                ]
            },
            "messages[0].content[0].source.type",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "search_result"}]}]},
            "messages[0].content[0].type",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": {"type": "file"}}]}
                ]
            },
            "messages[0].content[0].source",
        ),
        (
            {"messages": [{"role": "user", "content": [{"text": "no type"}]}]},
            "messages[0].content[0].type",
        ),
    ],
)
def test_what_cannot_be_served_is_refused_naming_the_field(
    fields: dict[str, Any], param: str
) -> None:
    request = {key: value for key, value in body(**fields).items() if value is not None}
    with pytest.raises(CodecError) as refused:
        chat_params_from_anthropic(request)
    assert refused.value.param == param


def test_the_token_estimate_counts_text_tools_and_images() -> None:
    text = chat_params_from_anthropic(body(messages=[{"role": "user", "content": "x" * 400}]))
    assert estimate_input_tokens(text) == 100
    image = {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}
    with_image = chat_params_from_anthropic(body(messages=[{"role": "user", "content": [image]}]))
    assert estimate_input_tokens(with_image) == IMAGE_TOKENS
    with_tools = chat_params_from_anthropic(body(tools=[WEATHER]))
    assert estimate_input_tokens(with_tools) > estimate_input_tokens(
        chat_params_from_anthropic(body())
    )


# --- answers ----------------------------------------------------------------------------


def result(
    message: chat_pb2.Message, finish: chat_pb2.FinishReason.ValueType, **usage: Any
) -> chat_pb2.ChatResult:
    return chat_pb2.ChatResult(
        choices=[chat_pb2.Choice(message=message, finish_reason=finish)],
        usage=usage_from_anthropic(usage or {"input_tokens": 3, "output_tokens": 4}),
    )


def call(call_id: str, name: str, arguments: str) -> chat_pb2.ToolCall:
    return chat_pb2.ToolCall(
        id=call_id, type="function", function=chat_pb2.FunctionCall(name=name, arguments=arguments)
    )


def test_an_answer_with_text_and_tool_calls() -> None:
    message = chat_pb2.Message(
        role=chat_pb2.ROLE_ASSISTANT,
        text="Checking.",
        tool_calls=[call("call_0", "get_weather", '{"city":"Oslo"}'), call("toolu_9", "f", "")],
    )
    answer = message_from_chat_result(
        result(message, chat_pb2.FINISH_REASON_TOOL_CALLS), message_id="msg_r1", model="m/x"
    )
    assert answer == {
        "id": "msg_r1",
        "type": "message",
        "role": "assistant",
        "model": "m/x",
        "content": [
            {"type": "text", "text": "Checking."},
            {
                "type": "tool_use",
                "id": "toolu_call_0",
                "name": "get_weather",
                "input": {"city": "Oslo"},
            },
            {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 4},
    }


def test_broken_tool_arguments_are_kept_not_lost() -> None:
    message = chat_pb2.Message(tool_calls=[call("c", "f", "{not json")])
    answer = message_from_chat_result(
        result(message, chat_pb2.FINISH_REASON_TOOL_CALLS), message_id="m", model="x"
    )
    assert answer["content"][0]["input"] == {"_arguments": "{not json"}


@pytest.mark.parametrize(
    ("finish", "raw", "stop_reason"),
    [
        (chat_pb2.FINISH_REASON_STOP, None, "end_turn"),
        (chat_pb2.FINISH_REASON_LENGTH, None, "max_tokens"),
        (chat_pb2.FINISH_REASON_TOOL_CALLS, None, "tool_use"),
        (chat_pb2.FINISH_REASON_CONTENT_FILTER, None, "refusal"),
        (chat_pb2.FINISH_REASON_UNSPECIFIED, None, "end_turn"),
        (chat_pb2.FINISH_REASON_UNSPECIFIED, "pause_turn", "pause_turn"),
        (chat_pb2.FINISH_REASON_UNSPECIFIED, "something_new", "end_turn"),
    ],
)
def test_stop_reasons(
    finish: chat_pb2.FinishReason.ValueType, raw: str | None, stop_reason: str
) -> None:
    choice = chat_pb2.Choice(finish_reason=finish)
    if raw is not None:
        choice.extras.CopyFrom(struct_from_dict({"finish_reason": raw}))
    assert stop_reason_from_choice(choice) == stop_reason


@pytest.mark.parametrize(
    "stop_reason", ["end_turn", "max_tokens", "tool_use", "refusal", "pause_turn"]
)
def test_stop_reasons_survive_the_outbound_and_back(stop_reason: str) -> None:
    # core's Anthropic provider maps stop reasons to finish reasons with the same table
    reason, raw = finish_reason_from_str(finish_reason_from_stop(stop_reason))
    choice = chat_pb2.Choice(finish_reason=reason)
    if raw is not None:  # as core's stream assembler keeps a reason OpenAI lacks
        choice.extras.CopyFrom(struct_from_dict({"finish_reason": raw}))
    assert stop_reason_from_choice(choice) == stop_reason


def test_openai_cached_tokens_become_cache_reads_outside_input_tokens() -> None:
    usage = chat_pb2.Usage(input_tokens=100, output_tokens=5, total_tokens=105)
    usage.extras.CopyFrom(struct_from_dict({"prompt_tokens_details": {"cached_tokens": 60}}))
    assert usage_to_anthropic(usage) == {
        "input_tokens": 40,
        "output_tokens": 5,
        "cache_read_input_tokens": 60,
    }


def test_image_sources_and_urls_map_both_ways() -> None:
    for source in (
        {"type": "base64", "media_type": "image/jpeg", "data": "QUJD"},
        {"type": "url", "url": "https://a/b"},
    ):
        url = image_url_from_source(source)
        assert url is not None
        assert image_source_from_url(url) == source
    assert image_source_from_url("data:image/png,raw") is None
    assert image_url_from_source({"type": "file", "file_id": "f"}) is None


# --- stream events ----------------------------------------------------------------------


def assemble(events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """What a client builds from the events, as the Anthropic SDK does; checks the sequence."""
    names = [name for name, _ in events]
    assert names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    message: dict[str, Any] = events[0][1]["message"]
    partial: dict[int, str] = {}
    open_block: int | None = None
    for name, payload in events[1:-2]:
        assert payload["type"] == name
        if name == "content_block_start":
            assert open_block is None, "a block starts before the last one stopped"
            open_block = payload["index"]
            assert open_block == len(message["content"])
            message["content"].append(dict(payload["content_block"]))
        elif name == "content_block_stop":
            assert payload["index"] == open_block
            open_block = None
        else:
            block = message["content"][payload["index"]]
            delta = payload["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            else:
                partial[payload["index"]] = (
                    partial.get(payload["index"], "") + delta["partial_json"]
                )
    assert open_block is None
    for index, text in partial.items():
        message["content"][index]["input"] = json.loads(text)
    message.update(events[-2][1]["delta"])
    message["usage"].update(events[-2][1]["usage"])
    return message


def stream(deltas: list[chat_pb2.ChatDelta], final: chat_pb2.ChatResult) -> dict[str, Any]:
    writer = MessageEvents(message_id="msg_s", model="m/x")
    events = writer.start()
    for delta in deltas:
        events += writer.delta(delta)
    return assemble(events + writer.finish(final))


def test_a_text_then_tool_stream() -> None:
    deltas = [
        chat_pb2.ChatDelta(role=chat_pb2.ROLE_ASSISTANT),
        chat_pb2.ChatDelta(content="Let "),
        chat_pb2.ChatDelta(content="me."),
        chat_pb2.ChatDelta(
            tool_calls=[chat_pb2.ToolCallDelta(index=0, id="call_0", name="f", arguments='{"a"')]
        ),
        chat_pb2.ChatDelta(tool_calls=[chat_pb2.ToolCallDelta(index=0, arguments=":1}")]),
        chat_pb2.ChatDelta(tool_calls=[chat_pb2.ToolCallDelta(index=1, id="toolu_x", name="g")]),
    ]
    final = result(
        chat_pb2.Message(), chat_pb2.FINISH_REASON_TOOL_CALLS, input_tokens=7, output_tokens=2
    )
    message = stream(deltas, final)
    assert message["content"] == [
        {"type": "text", "text": "Let me."},
        {"type": "tool_use", "id": "toolu_call_0", "name": "f", "input": {"a": 1}},
        {"type": "tool_use", "id": "toolu_x", "name": "g", "input": {}},
    ]
    assert message["stop_reason"] == "tool_use"
    assert message["usage"] == {"input_tokens": 7, "output_tokens": 2}


def test_an_answer_that_came_in_no_delta_is_sent_whole() -> None:
    final = result(
        chat_pb2.Message(text="all at once", tool_calls=[call("c1", "f", '{"x":[1]}')]),
        chat_pb2.FINISH_REASON_TOOL_CALLS,
    )
    message = stream([], final)
    assert message["content"] == [
        {"type": "text", "text": "all at once"},
        {"type": "tool_use", "id": "toolu_c1", "name": "f", "input": {"x": [1]}},
    ]


# --- properties -------------------------------------------------------------------------

ids = st.text("abcXYZ019_-", min_size=1, max_size=12)
objects = st.dictionaries(st.text(max_size=6), json_values, max_size=4)
tool_uses = st.lists(st.tuples(ids, objects), min_size=1, max_size=4, unique_by=lambda t: t[0])


@settings(max_examples=100, deadline=None)
@given(tool_uses)
def test_tool_use_ids_and_inputs_survive_a_request(uses: list[tuple[str, dict[str, Any]]]) -> None:
    assistant = {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": i, "name": "f", "input": args} for i, args in uses],
    }
    results = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": i, "content": "ok"} for i, _ in uses],
    }
    params = chat_params_from_anthropic(body(messages=[USER, assistant, results]))
    calls = params.messages[1].tool_calls
    assert [(c.id, json.loads(c.function.arguments)) for c in calls] == uses
    assert [m.tool_call_id for m in params.messages[2:]] == [i for i, _ in uses]


@settings(max_examples=100, deadline=None)
@given(tool_uses, st.text(max_size=8))
def test_tool_calls_survive_an_answer_and_come_back_unchanged(
    uses: list[tuple[str, dict[str, Any]]], text: str
) -> None:
    message = chat_pb2.Message(
        text=text, tool_calls=[call(i, "f", json.dumps(args)) for i, args in uses]
    )
    answer = message_from_chat_result(
        result(message, chat_pb2.FINISH_REASON_TOOL_CALLS), message_id="m", model="x"
    )
    blocks = [b for b in answer["content"] if b["type"] == "tool_use"]
    assert [(b["id"], b["input"]) for b in blocks] == [
        (tool_use_id(i, ""), args) for i, args in uses
    ]
    assert [b["type"] for b in answer["content"]] == ["text"] * bool(text) + ["tool_use"] * len(
        uses
    )
    # The client sends the blocks back as history: the ids it got are the ids core gets.
    again = chat_params_from_anthropic(
        body(messages=[USER, {"role": "assistant", "content": answer["content"]}])
    )
    assert [c.id for c in again.messages[1].tool_calls] == [b["id"] for b in blocks]


user_blocks = st.lists(
    st.one_of(
        st.builds(lambda t: {"type": "text", "text": t}, st.text(max_size=5)),
        st.builds(lambda i: {"type": "tool_result", "tool_use_id": i, "content": "r"}, ids),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=100, deadline=None)
@given(user_blocks)
def test_content_order_survives_a_user_turn(blocks: list[dict[str, Any]]) -> None:
    out = openai_body_from_anthropic(body(messages=[{"role": "user", "content": blocks}]))
    seen: list[str] = []
    for message in out["messages"]:
        if message["role"] == "tool":
            seen.append("result:" + message["tool_call_id"])
        else:
            content = message["content"]
            parts = [content] if isinstance(content, str) else [p["text"] for p in content]
            seen.extend("text:" + p for p in parts)
    expected = [
        "result:" + b["tool_use_id"] if b["type"] == "tool_result" else "text:" + b["text"]
        for b in blocks
    ]
    assert seen == expected


counts = st.integers(0, 2**40)


@settings(max_examples=100, deadline=None)
@given(counts, counts, st.none() | counts, st.none() | counts)
def test_usage_survives_both_ways(
    input_tokens: int, output_tokens: int, created: int | None, read: int | None
) -> None:
    usage: dict[str, Any] = {"input_tokens": input_tokens, "output_tokens": output_tokens}
    if created is not None:
        usage["cache_creation_input_tokens"] = created
    if read is not None:
        usage["cache_read_input_tokens"] = read
    wire = chat_pb2.Usage.FromString(usage_from_anthropic(usage).SerializeToString())
    assert usage_to_anthropic(wire) == usage


pieces = st.lists(
    st.one_of(
        st.builds(lambda t: ("text", t), st.text(min_size=1, max_size=4)),
        st.builds(lambda i: ("tool", i), st.integers(0, 2)),
    ),
    max_size=10,
)


@settings(max_examples=100, deadline=None)
@given(pieces, st.lists(objects, min_size=3, max_size=3), st.integers(1, 5))
def test_streamed_text_and_tool_inputs_assemble_as_sent(
    order: list[tuple[str, Any]], inputs: list[dict[str, Any]], split: int
) -> None:
    """Text pieces and tool calls, each call's JSON streamed in pieces right after its start
    (as providers stream calls one after another), assemble to the text and inputs sent."""
    deltas: list[chat_pb2.ChatDelta] = []
    text = ""
    called: list[int] = []
    for kind, value in order:
        if kind == "text":
            text += value
            deltas.append(chat_pb2.ChatDelta(content=value))
        elif value not in called:
            position = len(called)
            called.append(value)
            arguments = json.dumps(inputs[value])
            chunks = [arguments[i : i + split] for i in range(0, len(arguments), split)]
            first = chat_pb2.ToolCallDelta(index=position, id=f"id{value}", name="f")
            deltas.append(chat_pb2.ChatDelta(tool_calls=[first]))
            deltas += [
                chat_pb2.ChatDelta(tool_calls=[chat_pb2.ToolCallDelta(index=position, arguments=c)])
                for c in chunks
            ]
    message = stream(deltas, result(chat_pb2.Message(), chat_pb2.FINISH_REASON_STOP))
    assert "".join(b["text"] for b in message["content"] if b["type"] == "text") == text
    tools = [(b["id"], b["input"]) for b in message["content"] if b["type"] == "tool_use"]
    assert tools == [(f"toolu_id{v}", inputs[v]) for v in called]


def test_a_system_message_between_turns_stays_in_place() -> None:
    # Claude Code 2.1 sends notes as `system` messages inside `messages`.
    out = openai(
        system="be brief",
        messages=[
            USER,
            {"role": "system", "content": "note one"},
            {"role": "assistant", "content": "ok"},
            {"role": "system", "content": [{"type": "text", "text": "note two"}]},
            {"role": "user", "content": "go on"},
        ],
    )
    assert [(m["role"], m["content"]) for m in out["messages"]] == [
        ("system", "be brief"),
        ("user", "hi"),
        ("system", "note one"),
        ("assistant", "ok"),
        ("system", "note two"),
        ("user", "go on"),
    ]


def test_a_system_message_of_other_blocks_is_refused_naming_it() -> None:
    with pytest.raises(CodecError) as refused:
        openai(messages=[USER, {"role": "system", "content": [{"type": "image", "source": {}}]}])
    assert refused.value.param == "messages[1].content[0].type"


CLEAR_THINKING = {"type": "clear_thinking_20251015", "keep": "all"}
CLEAR_TOOL_USES = {"type": "clear_tool_uses_20250919"}


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ({"edits": [CLEAR_THINKING]}, None),
        ({"edits": [CLEAR_THINKING, CLEAR_TOOL_USES]}, {"edits": [CLEAR_TOOL_USES]}),
        ({"edits": [CLEAR_TOOL_USES]}, {"edits": [CLEAR_TOOL_USES]}),
        ({"edits": []}, {"edits": []}),
    ],
)
def test_thinking_edits_are_left_out_of_context_management(
    sent: dict[str, Any], kept: dict[str, Any] | None
) -> None:
    # Thinking is not applied, so edits of thinking blocks would presume what is not there.
    params = chat_params_from_anthropic(body(context_management=sent))
    extras = struct_to_dict(params.family_extras["anthropic"])
    assert extras.get("context_management") == kept
