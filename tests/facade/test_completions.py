"""`POST /completions` with the real openai SDK against the whole gateway (mock provider).

The mock answers a chat call with its last user message, so a completion's text is its prompt.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import MOCK_CONFIG
from tests.harness import RunningGateway, run_gateway

MODEL = "mock-main/echo"


@pytest.fixture
async def sdk(gateway: RunningGateway) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=gateway.openai_base_url, api_key=gateway.admin_key, max_retries=0
    ) as client:
        yield client


@pytest.mark.parametrize("suffix", ["/api/inference/openai", "/api/inference/openai/v1", "/v1"])
async def test_a_string_prompt_under_every_base_url(gateway: RunningGateway, suffix: str) -> None:
    async with openai.AsyncOpenAI(
        base_url=gateway.http_url + suffix, api_key=gateway.admin_key, max_retries=0
    ) as client:
        raw = await client.completions.with_raw_response.create(
            model=MODEL, prompt="hello from the sdk", extra_headers={"x-request-id": "sdk-1"}
        )
    completion = raw.parse()
    assert completion.object == "text_completion"
    assert completion.id == "cmpl-sdk-1"
    assert completion.model == MODEL
    assert completion.created > 0
    (choice,) = completion.choices
    assert (choice.text, choice.index, choice.finish_reason) == ("hello from the sdk", 0, "stop")
    assert choice.logprobs is None
    assert completion.usage is not None
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    assert completion.usage.completion_tokens > 0
    assert raw.headers["x-request-id"] == "sdk-1"
    assert raw.headers["x-tfy-resolved-model"] == MODEL
    assert raw.headers["content-type"] == "application/json"


async def test_a_list_prompt_is_one_call_per_prompt(sdk: openai.AsyncOpenAI) -> None:
    one = await sdk.completions.create(model=MODEL, prompt="alpha beta")
    two = await sdk.completions.create(model=MODEL, prompt="gamma")
    both = await sdk.completions.with_raw_response.create(
        model=MODEL, prompt=["alpha beta", "gamma"]
    )
    completion = both.parse()
    assert [(c.index, c.text) for c in completion.choices] == [(0, "alpha beta"), (1, "gamma")]
    assert completion.usage is not None
    assert one.usage is not None
    assert two.usage is not None
    assert completion.usage.prompt_tokens == one.usage.prompt_tokens + two.usage.prompt_tokens
    assert completion.usage.total_tokens == one.usage.total_tokens + two.usage.total_tokens
    assert completion.id == f"cmpl-{both.headers['x-request-id']}"


async def test_n_spaces_the_indexes_of_each_prompts_choices(sdk: openai.AsyncOpenAI) -> None:
    # The mock answers one choice whatever `n` asks; each prompt's choices start at i * n.
    completion = await sdk.completions.create(model=MODEL, prompt=["a", "b"], n=2)
    assert [(c.index, c.text) for c in completion.choices] == [(0, "a"), (2, "b")]


async def test_echo_puts_the_prompt_in_front(sdk: openai.AsyncOpenAI) -> None:
    completion = await sdk.completions.create(model=MODEL, prompt=["Q: ", "R"], echo=True)
    assert [c.text for c in completion.choices] == ["Q: Q: ", "RR"]


@pytest.mark.parametrize("stop", ["\n", ["\n", "END"]])
async def test_stop_and_sampling_fields_are_accepted(
    sdk: openai.AsyncOpenAI, stop: str | list[str]
) -> None:
    completion = await sdk.completions.create(
        model=MODEL,
        prompt="hi",
        stop=stop,
        max_tokens=5,
        temperature=0.2,
        top_p=0.9,
        presence_penalty=0.1,
        frequency_penalty=0.1,
        logit_bias={"50256": -100},
        seed=7,
        user="ana",
        best_of=1,
    )
    assert completion.choices[0].text == "hi"


@pytest.mark.parametrize("echo", [False, True])
async def test_a_stream_with_usage(sdk: openai.AsyncOpenAI, echo: bool) -> None:
    stream = await sdk.completions.create(
        model=MODEL,
        prompt="one two three",
        stream=True,
        echo=echo,
        stream_options={"include_usage": True},
    )
    texts: list[str] = []
    finish: list[str | None] = []
    ids, objects = set(), set()
    usage = None
    async for chunk in stream:
        ids.add(chunk.id)
        objects.add(chunk.object)
        for choice in chunk.choices:
            assert (choice.index, choice.logprobs) == (0, None)
            texts.append(choice.text)
            finish.append(choice.finish_reason)
        if chunk.usage is not None:
            assert chunk.choices == []
            usage = chunk.usage
    answer = "one two three"
    assert "".join(texts) == (answer + answer if echo else answer)
    assert texts[0] == (answer if echo else "one")
    assert finish[-1] == "stop"
    assert not any(finish[:-1])
    assert usage is not None
    assert usage.total_tokens > usage.prompt_tokens > 0
    assert objects == {"text_completion"}
    (only_id,) = ids
    assert only_id.startswith("cmpl-")


async def test_a_stream_without_usage_sends_no_usage_chunk(gateway: RunningGateway) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{gateway.http_url}/v1/completions",
            headers={"authorization": f"Bearer {gateway.admin_key}"},
            json={"model": MODEL, "prompt": "a b", "stream": True},
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-tfy-resolved-model"] == MODEL
    events = [line for line in response.text.split("\n\n") if line]
    assert events[-1] == "data: [DONE]"
    assert "usage" not in response.text


async def test_a_stream_cut_raises_api_error(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.completions.create(
        model=MODEL, prompt="one two three four", stream=True, extra_body={"mock": {"cut_after": 2}}
    )
    seen: list[object] = []

    async def consume() -> None:
        async for chunk in stream:
            seen.append(chunk)

    with pytest.raises(openai.APIError, match="cut"):
        await consume()
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"prompt": [[1, 2], [3]]}, "prompt"),
        ({"prompt": []}, "prompt"),
        ({"prompt": None}, "prompt"),
        ({"suffix": "the end"}, "suffix"),
        ({"logprobs": 1}, "logprobs"),
        ({"best_of": 3}, "best_of"),
        ({"prompt": ["a", "b"], "stream": True}, "prompt"),
        ({"n": 0}, "n"),
        ({"echo": "yes"}, "echo"),
        ({"stream": "yes"}, "stream"),
    ],
)
async def test_bad_or_unsupported_inputs_are_400_naming_the_field(
    sdk: openai.AsyncOpenAI, fields: dict[str, Any], param: str
) -> None:
    body: dict[str, Any] = {"model": MODEL, "prompt": "hi", **fields}
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.post("/completions", body=body, cast_to=httpx.Response)
    assert caught.value.status_code == 400
    assert caught.value.param == param
    assert caught.value.request_id is not None


@pytest.mark.parametrize(
    ("body", "param"), [({"model": MODEL}, "prompt"), ({"prompt": "hi"}, "model")]
)
async def test_a_missing_field_is_400_naming_it(
    sdk: openai.AsyncOpenAI, body: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.post("/completions", body=body, cast_to=httpx.Response)
    assert caught.value.param == param


async def test_the_sdk_raises_on_unsupported_fields(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.completions.create(model=MODEL, prompt="hi", suffix="x")
    assert caught.value.param == "suffix"
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.completions.create(model=MODEL, prompt=[[1, 2]])
    assert caught.value.param == "prompt"


@pytest.mark.parametrize("stream", [False, True])
async def test_an_unknown_model_is_404(sdk: openai.AsyncOpenAI, stream: bool) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await sdk.completions.create(model="mock-main/nope", prompt="hi", stream=stream)
    assert caught.value.code == "model_not_found"
    assert caught.value.request_id is not None


async def test_one_failing_prompt_fails_the_call(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        await sdk.completions.create(
            model=MODEL, prompt=["a", "b"], extra_body={"mock": {"status": 503}}
        )
    assert (caught.value.status_code, caught.value.code) == (502, "upstream_error")


@pytest.mark.parametrize("content", [b"{not json", b'{"model": "m", "prompt": [1]}'])
async def test_no_key_is_401_whatever_the_body(gateway: RunningGateway, content: bytes) -> None:
    url = f"{gateway.http_url}/v1/completions"
    async with httpx.AsyncClient() as client:
        keyless = await client.post(url, content=content)
        wrong = await client.post(url, content=content, headers={"authorization": "Bearer sk-no"})
    assert (keyless.status_code, wrong.status_code) == (401, 401)
    assert keyless.json()["error"]["code"] == wrong.json()["error"]["code"] == "invalid_api_key"


def test_each_prompt_is_a_call_logged_like_a_chat_call(tmp_path: Path) -> None:
    with (
        run_gateway(MOCK_CONFIG, data_dir=tmp_path) as gateway,
        openai.OpenAI(
            base_url=gateway.openai_base_url, api_key=gateway.admin_key, max_retries=0
        ) as sdk,
    ):
        single = sdk.completions.with_raw_response.create(
            model=MODEL, prompt="log me", stop="\n", max_tokens=9
        )
        several = sdk.completions.with_raw_response.create(
            model=MODEL, prompt=["first", "second"], extra_headers={"x-request-id": "batch-7"}
        )
        chat = sdk.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "log me"}]
        )
        with pytest.raises(httpx.TimeoutException):  # the caller hangs up on a slow batch
            httpx.post(
                f"{gateway.http_url}/v1/completions",
                headers={"authorization": f"Bearer {gateway.admin_key}", "x-request-id": "gone-1"},
                json={"model": MODEL, "prompt": ["a", "b"], "mock": {"latency_ms": 1500}},
                timeout=0.3,
            )
        time.sleep(0.2)  # for the hang-up to reach core
    assert several.headers["x-request-id"] == "batch-7"
    single_id = single.headers["x-request-id"]
    # Stopping drained the log pipeline into the store; a new gateway over it reads it back.
    with run_gateway(MOCK_CONFIG, data_dir=tmp_path) as gateway:
        headers = {"authorization": f"Bearer {gateway.admin_key}"}
        path = f"{gateway.http_url}/api/svc/v1/llm-gateway/requests"
        found = httpx.get(f"{path}/{single_id}", headers=headers)
        listed = httpx.post(path, headers=headers, json={}).json()["data"]
    assert found.status_code == 200, found.text
    record = found.json()
    assert (record["model"], record["resolved_model"], record["status"]) == (
        MODEL,
        MODEL,
        "success",
    )
    assert record["stream"] is False
    assert record["request"]["messages"] == [{"role": "user", "content": "log me"}]
    assert (record["request"]["stop"], record["request"]["max_tokens"]) == ("\n", 9)
    usage = single.parse().usage
    assert usage is not None
    assert record["usage"] == {
        "input_tokens": usage.prompt_tokens,
        "output_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    batch = [r for r in listed if r["id"].startswith("batch-7.")]
    assert sorted(r["request"]["messages"][0]["content"] for r in batch) == ["first", "second"]
    gone = [r for r in listed if r["id"].startswith("gone-1.")]
    assert [r["http_status"] for r in gone] == [499, 499]  # both calls cancelled, and logged
    chat_record = next(r for r in listed if r["id"] == chat.id.removeprefix("chatcmpl-"))
    assert set(chat_record) == set(record)
    assert chat_record["usage"] == record["usage"]


def test_langchains_openai_llm(gateway: RunningGateway) -> None:
    langchain_openai = pytest.importorskip(
        "langchain_openai", reason="langchain-openai is not installed"
    )
    llm = langchain_openai.OpenAI(
        model=MODEL, base_url=gateway.openai_base_url, api_key=gateway.admin_key, max_retries=0
    )
    assert llm.invoke("hello from langchain") == "hello from langchain"
    assert "".join(llm.stream("streamed words")) == "streamed words"


def test_llama_indexs_openai_like(gateway: RunningGateway) -> None:
    openai_like = pytest.importorskip(
        "llama_index.llms.openai_like", reason="llama-index-llms-openai-like is not installed"
    )
    llm = openai_like.OpenAILike(
        model=MODEL, api_base=gateway.openai_base_url, api_key=gateway.admin_key
    )  # is_chat_model=False by default: it calls /completions
    assert llm.complete("hello from llama-index").text == "hello from llama-index"
