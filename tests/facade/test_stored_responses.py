"""Stored responses: `previous_response_id`, `store: false`, `GET` and `DELETE
/responses/{id}`, each key seeing only its own, with the real openai SDK.

The provider is the fake OpenAI server, which records what it was sent: a continuation must
reach it as one conversation (new instructions, the stored turns, the new input).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai.types.responses import FunctionToolParam

from tests.fakes.upstream import FakeUpstream
from tests.harness import RunningGateway, run_gateway

MODEL = "oai/echo"
WEATHER: FunctionToolParam = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": False,
}


def _config(fake: FakeUpstream, secrets: Path) -> str:
    key_file = secrets / "provider.key"
    key_file.write_text("sk-provider\n")
    return f"""
name: oai
type: provider-account
provider: openai
base_url: {fake.base_url}/v1
api_key_file: {key_file}
models: [{{name: echo}}]
"""


@pytest.fixture(scope="module")
def gateway(
    fake_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    with run_gateway(_config(fake_upstream, tmp_path_factory.mktemp("secrets"))) as running:
        yield running


def _sdk(gateway: RunningGateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.openai_base_url, api_key=key, max_retries=0)


@pytest.fixture
def sdk(gateway: RunningGateway) -> Iterator[openai.OpenAI]:
    with _sdk(gateway, gateway.admin_key) as client:
        yield client


def _new_key(gateway: RunningGateway, subject: str) -> str:
    answer = httpx.post(
        f"{gateway.http_url}/api/svc/v1/keys",
        json={"subject": subject},
        headers={"authorization": f"Bearer {gateway.admin_key}"},
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["key"])


def _sent_messages(fake: FakeUpstream, marker: str) -> list[dict[str, Any]]:
    """The messages of the last request to the provider whose last message holds `marker`."""
    for seen in reversed(fake.requests):
        messages = seen.body.get("messages") if isinstance(seen.body, dict) else None
        if messages and marker in json.dumps(messages[-1]):
            return list(messages)
    raise AssertionError(f"no request ends with {marker!r}")


def test_a_continuation_sends_the_stored_turns_between_new_instructions_and_input(
    sdk: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    first = sdk.responses.create(model=MODEL, input="turn one", instructions="old rules")
    second = sdk.responses.create(
        model=MODEL, input="turn two", previous_response_id=first.id, instructions="new rules"
    )
    third = sdk.responses.create(model=MODEL, input="turn three", previous_response_id=second.id)
    assert second.previous_response_id == first.id
    assert (first.output_text, second.output_text, third.output_text) == (
        "echo: turn one",
        "echo: turn two",
        "echo: turn three",
    )
    # The previous request's instructions are not carried over (as OpenAI does).
    assert _sent_messages(fake_upstream, "turn two") == [
        {"role": "system", "content": "new rules"},
        {"role": "user", "content": "turn one"},
        {"role": "assistant", "content": "echo: turn one"},
        {"role": "user", "content": "turn two"},
    ]
    assert _sent_messages(fake_upstream, "turn three") == [
        {"role": "user", "content": "turn one"},
        {"role": "assistant", "content": "echo: turn one"},
        {"role": "user", "content": "turn two"},
        {"role": "assistant", "content": "echo: turn two"},
        {"role": "user", "content": "turn three"},
    ]


def test_a_function_call_is_answered_from_the_stored_response(
    sdk: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    asked = sdk.responses.create(model=MODEL, input="weather in Paris?", tools=[WEATHER])
    (call,) = asked.output
    assert call.type == "function_call"
    answered = sdk.responses.create(
        model=MODEL,
        previous_response_id=asked.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny 21C"}],
        tools=[WEATHER],
    )
    assert [item.type for item in answered.output] == ["message"]
    sent = _sent_messages(fake_upstream, "sunny 21C")
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[1]["tool_calls"][0]["id"] == sent[2]["tool_call_id"] == call.call_id
    assert sent[1]["tool_calls"][0]["function"]["name"] == "get_weather"


def test_item_references_are_answered_from_the_stored_responses(
    sdk: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    # What the Vercel AI SDK sends with `store: true`: the earlier output as references.
    asked = sdk.responses.create(model=MODEL, input="weather in Rome?", tools=[WEATHER])
    (call,) = asked.output
    assert call.type == "function_call"
    assert call.id is not None
    answered = sdk.responses.create(
        model=MODEL,
        input=[
            {"role": "user", "content": "weather in Rome?"},
            {"type": "item_reference", "id": call.id},
            {"type": "function_call_output", "call_id": call.call_id, "output": "rainy 14C"},
        ],
        tools=[WEATHER],
    )
    (message,) = answered.output
    assert message.type == "message"
    assert message.id is not None
    sent = _sent_messages(fake_upstream, "rainy 14C")
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[1]["tool_calls"][0]["id"] == sent[2]["tool_call_id"] == call.call_id
    assert sent[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    # A message item is found as well, and becomes the assistant turn it was.
    sdk.responses.create(
        model=MODEL,
        input=[{"type": "item_reference", "id": message.id}, {"role": "user", "content": "ok?"}],
    )
    assert _sent_messages(fake_upstream, "ok?") == [
        {"role": "assistant", "content": answered.output_text},
        {"role": "user", "content": "ok?"},
    ]


def test_an_item_reference_to_another_keys_or_no_response_is_400(
    gateway: RunningGateway, sdk: openai.OpenAI
) -> None:
    asked = sdk.responses.create(model=MODEL, input="admin's weather?", tools=[WEATHER])
    (call,) = asked.output
    assert call.id is not None
    unknown = ["fc_0123456789abcdef_0", f"{call.id}9", "rs_elsewhere", "msg_"]
    with _sdk(gateway, _new_key(gateway, "user:eve@example.com")) as eve:
        for client, item_id in [(eve, call.id)] + [(sdk, item_id) for item_id in unknown]:
            with pytest.raises(openai.BadRequestError) as raised:
                client.responses.create(
                    model=MODEL,
                    input=[
                        {"role": "user", "content": "hi"},
                        {"type": "item_reference", "id": item_id},
                    ],
                )
            body: Any = raised.value.body
            assert body["param"] == "input[1].id"
            assert body["message"] == f"Item with id '{item_id}' not found."


def test_a_streamed_response_can_be_continued_as_soon_as_it_ends(
    sdk: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    with sdk.responses.stream(model=MODEL, input="streamed turn") as stream:
        streamed = stream.get_final_response()
    follow = sdk.responses.create(model=MODEL, input="after it", previous_response_id=streamed.id)
    assert follow.output_text == "echo: after it"
    assert _sent_messages(fake_upstream, "after it")[:2] == [
        {"role": "user", "content": "streamed turn"},
        {"role": "assistant", "content": "echo: streamed turn"},
    ]


def test_retrieve_returns_the_response_as_it_was_created(sdk: openai.OpenAI) -> None:
    created = sdk.responses.create(model=MODEL, input="keep me", metadata={"app": "x"})
    found = sdk.responses.retrieve(created.id)
    assert found.model_dump() == created.model_dump()


def test_store_false_keeps_it_out(sdk: openai.OpenAI) -> None:
    unstored = sdk.responses.create(model=MODEL, input="forget me", store=False)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(unstored.id)
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.responses.create(model=MODEL, input="next", previous_response_id=unstored.id)
    assert raised.value.code == "previous_response_not_found"
    body: Any = raised.value.body
    assert body["param"] == "previous_response_id"
    assert unstored.id in body["message"]


def test_delete_then_it_is_gone(sdk: openai.OpenAI) -> None:
    created = sdk.responses.create(model=MODEL, input="delete me")
    raw = sdk.responses.with_raw_response.delete(created.id)
    assert raw.http_response.json() == {"id": created.id, "object": "response", "deleted": True}
    with pytest.raises(openai.NotFoundError) as raised:
        sdk.responses.retrieve(created.id)
    assert raised.value.code == "response_not_found"
    with pytest.raises(openai.NotFoundError):
        sdk.responses.delete(created.id)
    with pytest.raises(openai.BadRequestError):
        sdk.responses.create(model=MODEL, input="next", previous_response_id=created.id)


def test_a_response_is_only_its_keys_and_the_admins(
    gateway: RunningGateway, sdk: openai.OpenAI
) -> None:
    with (
        _sdk(gateway, _new_key(gateway, "user:ana@example.com")) as ana,
        _sdk(gateway, _new_key(gateway, "user:bob@example.com")) as bob,
    ):
        mine = ana.responses.create(model=MODEL, input="ana's secret plan")
        assert ana.responses.retrieve(mine.id).id == mine.id
        with pytest.raises(openai.NotFoundError):
            bob.responses.retrieve(mine.id)
        with pytest.raises(openai.NotFoundError):
            bob.responses.delete(mine.id)
        with pytest.raises(openai.BadRequestError) as raised:
            bob.responses.create(model=MODEL, input="tell me", previous_response_id=mine.id)
        assert raised.value.code == "previous_response_not_found"
        # The admin reads and deletes any; Ana's response survived Bob's attempts until then.
        assert sdk.responses.retrieve(mine.id).output_text == "echo: ana's secret plan"
        sdk.responses.delete(mine.id)
        with pytest.raises(openai.NotFoundError):
            ana.responses.retrieve(mine.id)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_the_stored_routes_need_a_key_and_answer_openais_404(
    gateway: RunningGateway, method: str
) -> None:
    url = f"{gateway.openai_base_url}/v1/responses/resp_nothing"
    keyless = httpx.request(method, url)
    assert keyless.status_code == 401
    unknown = httpx.request(method, url, headers={"authorization": f"Bearer {gateway.admin_key}"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "response_not_found"
    assert unknown.headers["x-request-id"]


def test_a_stored_response_is_not_replayed_as_a_stream(
    gateway: RunningGateway, sdk: openai.OpenAI
) -> None:
    created = sdk.responses.create(model=MODEL, input="no replay")
    answer = httpx.get(
        f"{gateway.openai_base_url}/v1/responses/{created.id}?stream=true",
        headers={"authorization": f"Bearer {gateway.admin_key}"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "stream"


def test_an_id_no_header_could_carry_is_400(gateway: RunningGateway) -> None:
    answer = httpx.get(
        f"{gateway.openai_base_url}/v1/responses/{'x' * 300}",
        headers={"authorization": f"Bearer {gateway.admin_key}"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "id"


def test_stored_responses_survive_a_restart(tmp_path: Path, fake_upstream: FakeUpstream) -> None:
    config = _config(fake_upstream, tmp_path)
    with (
        run_gateway(config, data_dir=tmp_path / "data") as first,
        _sdk(first, first.admin_key) as sdk,
    ):
        created = sdk.responses.create(model=MODEL, input="remember across restarts")
    with (
        run_gateway(config, data_dir=tmp_path / "data") as second,
        _sdk(second, second.admin_key) as sdk,
    ):
        follow = sdk.responses.create(
            model=MODEL, input="still there?", previous_response_id=created.id
        )
    assert follow.previous_response_id == created.id
    assert _sent_messages(fake_upstream, "still there?")[0] == {
        "role": "user",
        "content": "remember across restarts",
    }


def test_an_item_reference_without_an_id_is_400_naming_it(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.responses.create(model=MODEL, input=[{"type": "item_reference"}])  # type: ignore[typeddict-item]
    body: Any = raised.value.body
    assert body["param"] == "input[0].id"
    assert "must be a non-empty string" in body["message"]
