"""Legacy completions: request JSON -> one ChatParams per prompt; chat results -> `text_completion`."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings, strategies as st
from openai.types import Completion

from codec import (
    CodecError,
    CompletionChunks,
    chat_params_to_json,
    completion_request_from_json,
    completion_to_json,
    usage_to_json,
)
from codec.completions import message_text, usage_sum_to_json
from gateway.v1 import chat_pb2
from tests.codec.response_strategies import chat_results, counts
from tests.codec.strategies import json_values, text

BODY = {"model": "mock-main/echo", "prompt": "Say hi"}


def result(*texts: str, input_tokens: int = 3, output_tokens: int = 2) -> chat_pb2.ChatResult:
    answer = chat_pb2.ChatResult(id="chatcmpl-x", model="mock-main/echo")
    answer.create_time.seconds = 1_700_000_000
    for index, content in enumerate(texts):
        choice = answer.choices.add(index=index, finish_reason=chat_pb2.FINISH_REASON_STOP)
        choice.message.role = chat_pb2.ROLE_ASSISTANT
        choice.message.text = content
    answer.usage.input_tokens = input_tokens
    answer.usage.output_tokens = output_tokens
    answer.usage.total_tokens = input_tokens + output_tokens
    return answer


def test_a_string_prompt_is_one_user_message_and_the_rest_is_chats() -> None:
    body = {
        **BODY,
        "max_tokens": 7,
        "temperature": 0.5,
        "stop": "\n",
        "logit_bias": {"50256": -100},
        "user": "ana",
        "echo": False,
        "best_of": 1,
        "logprobs": None,
        "suffix": None,
        "stream": False,
        "mock": {"latency_ms": 1},
    }
    request = completion_request_from_json(body)
    assert request.prompts == ("Say hi",)
    assert (request.echo, request.n) == (False, 1)
    (params,) = request.calls
    assert chat_params_to_json(params) == {
        "model": "mock-main/echo",
        "messages": [{"role": "user", "content": "Say hi"}],
        "max_tokens": 7,
        "temperature": 0.5,
        "stop": "\n",
        "logit_bias": {"50256": -100},
        "user": "ana",
        "stream": False,
        "mock": {"latency_ms": 1},
    }


def test_no_max_tokens_default_is_applied() -> None:
    (params,) = completion_request_from_json(BODY).calls
    assert not params.HasField("max_tokens")


def test_a_list_prompt_is_one_call_per_prompt_with_the_same_fields() -> None:
    request = completion_request_from_json({**BODY, "prompt": ["a", "b", ""], "n": 2, "seed": 1})
    assert request.prompts == ("a", "b", "")
    assert [p.messages[0].text for p in request.calls] == ["a", "b", ""]
    assert all(p.n == 2 and p.seed == 1 and len(p.messages) == 1 for p in request.calls)
    assert request.n == 2


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m"}, "prompt"),
        ({"model": "m", "prompt": None}, "prompt"),
        ({"model": "m", "prompt": []}, "prompt"),
        ({"model": "m", "prompt": [1, 2, 3]}, "prompt"),
        ({"model": "m", "prompt": [[1, 2], [3]]}, "prompt"),
        ({"model": "m", "prompt": ["a", 1]}, "prompt"),
        ({"model": "m", "prompt": {"text": "a"}}, "prompt"),
        ({"model": "m", "prompt": ["a"] * 129}, "prompt"),
        ({"prompt": "a"}, "model"),
        ({**BODY, "suffix": "end"}, "suffix"),
        ({**BODY, "logprobs": 0}, "logprobs"),
        ({**BODY, "logprobs": 5}, "logprobs"),
        ({**BODY, "best_of": 3}, "best_of"),
        ({**BODY, "best_of": 3, "n": 2}, "best_of"),
        ({**BODY, "best_of": "1"}, "best_of"),
        ({**BODY, "n": 0}, "n"),
        ({**BODY, "n": 129}, "n"),
        ({**BODY, "echo": "yes"}, "echo"),
        ({**BODY, "messages": [{"role": "user", "content": "x"}]}, "messages"),
        ({**BODY, "tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({**BODY, "functions": [{"name": "f"}]}, "functions"),
        ({**BODY, "max_tokens": "many"}, "max_tokens"),
    ],
)
def test_bad_or_unsupported_fields_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(CodecError) as caught:
        completion_request_from_json(body)
    assert caught.value.param == param


def test_token_ids_are_refused_as_unsupported() -> None:
    with pytest.raises(CodecError, match="token ids is not supported"):
        completion_request_from_json({**BODY, "prompt": [[1, 2]]})


@pytest.mark.parametrize(("best_of", "n"), [(1, None), (1, 3), (3, 3)])
def test_best_of_is_accepted_when_it_changes_nothing(best_of: int, n: int | None) -> None:
    request = completion_request_from_json({**BODY, "best_of": best_of, "n": n})
    assert "best_of" not in chat_params_to_json(request.calls[0])


def test_the_answer_is_openais_text_completion() -> None:
    request = completion_request_from_json(BODY)
    out = completion_to_json(request, [result("Hi!")], completion_id="cmpl-1")
    assert out == {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1_700_000_000,
        "model": "mock-main/echo",
        "choices": [{"text": "Hi!", "index": 0, "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    Completion.model_validate(out)


def test_echo_puts_the_prompt_first_and_several_prompts_merge() -> None:
    request = completion_request_from_json({**BODY, "prompt": ["A:", "B:"], "n": 2, "echo": True})
    answers = [result("a1", "a2"), result("b1", "b2", input_tokens=4, output_tokens=6)]
    answers[0].extras["system_fingerprint"] = "fp_1"
    out = completion_to_json(request, answers, completion_id="cmpl-2")
    assert [(c["index"], c["text"]) for c in out["choices"]] == [
        (0, "A:a1"),
        (1, "A:a2"),
        (2, "B:b1"),
        (3, "B:b2"),
    ]
    assert out["usage"] == {"prompt_tokens": 7, "completion_tokens": 8, "total_tokens": 15}
    assert out["system_fingerprint"] == "fp_1"
    Completion.model_validate(out)


def test_answer_text_from_content_parts_and_a_raw_finish_reason() -> None:
    answer = result("")
    choice = answer.choices[0]
    choice.message.parts.parts.add().text.text = "one "
    choice.message.parts.parts.add().image_url.url = "https://x/y.png"
    choice.message.parts.parts.add().text.text = "two"
    choice.extras["finish_reason"] = "end_turn"
    out = completion_to_json(completion_request_from_json(BODY), [answer], completion_id="c")
    assert out["choices"][0]["text"] == "one two"
    assert out["choices"][0]["finish_reason"] == "end_turn"


def test_one_result_per_prompt_is_required() -> None:
    request = completion_request_from_json({**BODY, "prompt": ["a", "b"]})
    with pytest.raises(ValueError, match="one chat result per prompt"):
        completion_to_json(request, [result("x")], completion_id="c")


def test_usage_sums_nested_details_and_keeps_other_values() -> None:
    first, second = chat_pb2.Usage(input_tokens=1), chat_pb2.Usage(input_tokens=2)
    first.extras.update({"prompt_tokens_details": {"cached_tokens": 1}, "tier": "a"})
    second.extras.update({"prompt_tokens_details": {"cached_tokens": 2, "audio_tokens": 3}})
    second.extras.update({"tier": "b", "cost": 0.5})
    assert usage_sum_to_json([first, second]) == {
        "prompt_tokens": 3,
        "completion_tokens": 0,
        "total_tokens": 0,
        "prompt_tokens_details": {"cached_tokens": 3, "audio_tokens": 3},
        "tier": "a",
        "cost": 0.5,
    }


def stream_chunks(echo: str | None) -> list[dict[str, Any]]:
    chunks = CompletionChunks(completion_id="cmpl-s", model="m/x", created=5, echo=echo)
    out: list[dict[str, Any]] = []
    out += chunks.delta(chat_pb2.ChatDelta(role=chat_pb2.ROLE_ASSISTANT, content=""))
    out += chunks.delta(chat_pb2.ChatDelta(content="Hel"))
    out += chunks.delta(chat_pb2.ChatDelta(content="lo"))
    out += chunks.finish(result("Hello"))
    out.append(chunks.usage(result("Hello")))
    return out


def test_stream_chunks_are_text_completions_ending_with_usage() -> None:
    out = stream_chunks(None)
    for chunk in out:
        assert (chunk["id"], chunk["object"], chunk["model"], chunk["created"]) == (
            "cmpl-s",
            "text_completion",
            "m/x",
            5,
        )
        if all(choice["finish_reason"] for choice in chunk["choices"]):  # else null: not typed
            Completion.model_validate(chunk)
    assert [c["choices"] for c in out] == [
        [{"text": "Hel", "index": 0, "logprobs": None, "finish_reason": None}],
        [{"text": "lo", "index": 0, "logprobs": None, "finish_reason": None}],
        [{"text": "", "index": 0, "logprobs": None, "finish_reason": "stop"}],
        [],
    ]
    assert out[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def test_a_streamed_echo_is_each_choices_first_text() -> None:
    out = stream_chunks("Say: ")
    texts = [c["choices"][0]["text"] for c in out if c["choices"]]
    assert texts == ["Say: ", "Hel", "lo", ""]
    chunks = CompletionChunks(completion_id="c", model="m", created=0, echo="P")
    silent = chunks.finish(result("", ""))  # choices that streamed no text still echo
    assert [(c["choices"][0]["index"], c["choices"][0]["text"]) for c in silent] == [
        (0, "P"),
        (0, ""),
        (1, "P"),
        (1, ""),
    ]


prompt_lists = st.lists(text, min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(prompts=prompt_lists, single=st.booleans(), n=st.integers(1, 128))
def test_every_prompt_survives_as_its_calls_user_message(
    prompts: list[str], single: bool, n: int
) -> None:
    prompt: Any = prompts[0] if single else prompts
    request = completion_request_from_json({**BODY, "prompt": prompt, "n": n})
    expected = prompts[:1] if single else prompts
    assert list(request.prompts) == expected
    assert [chat_params_to_json(p)["messages"] for p in request.calls] == [
        [{"role": "user", "content": item}] for item in expected
    ]


@settings(max_examples=200, deadline=None)
@given(
    answers=st.lists(chat_results(), min_size=1, max_size=3),
    n=st.integers(1, 4),
    echo=st.booleans(),
    prompts=prompt_lists,
)
def test_texts_indexes_and_usage_survive_the_merge(
    answers: list[chat_pb2.ChatResult], n: int, echo: bool, prompts: list[str]
) -> None:
    prompts = (prompts * 3)[: len(answers)]
    n = max(n, *(len(answer.choices) for answer in answers))  # a provider answers n choices
    request = completion_request_from_json({**BODY, "prompt": prompts, "n": n, "echo": echo})
    out = completion_to_json(request, answers, completion_id="cmpl-p")
    expected = sorted(
        (p * n + choice.index, (prompt if echo else "") + message_text(choice.message))
        for p, (prompt, answer) in enumerate(zip(prompts, answers, strict=True))
        for choice in answer.choices
    )
    assert [(c["index"], c["text"]) for c in out["choices"]] == expected
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert out["usage"][key] == sum(usage_to_json(a.usage)[key] for a in answers)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.fixed_dictionaries({"a": counts, "d": st.fixed_dictionaries({"b": counts})})))
def test_usage_sums_are_sums(extra: list[dict[str, Any]]) -> None:
    usages = []
    for item in extra:
        usage = chat_pb2.Usage(input_tokens=item["a"], output_tokens=1, total_tokens=item["a"] + 1)
        usage.extras.update({"details": item["d"]})
        usages.append(usage)
    total = usage_sum_to_json(usages)
    assert total.get("prompt_tokens", 0) == sum(item["a"] for item in extra)
    assert total.get("total_tokens", 0) == total.get("prompt_tokens", 0) + len(extra)
    assert total.get("details", {}).get("b", 0) == sum(item["d"]["b"] for item in extra)


MODELED = {
    *("model", "prompt", "echo", "best_of", "logprobs", "suffix", "messages", "tools"),
    "functions",
    *("tool_choice", "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop"),
    *("n", "seed", "presence_penalty", "frequency_penalty", "response_format", "user"),
    "parallel_tool_calls",
}


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(text.filter(lambda key: key not in MODELED), json_values, max_size=3))
def test_unknown_fields_reach_the_chat_call_as_chat_extras(extra: dict[str, Any]) -> None:
    request = completion_request_from_json({**BODY, **extra})
    sent = chat_params_to_json(request.calls[0])
    assert {key: sent[key] for key in extra} == extra
