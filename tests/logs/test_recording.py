"""Every call through the gateway becomes exactly one record with the right fields."""

from __future__ import annotations

import asyncio
import json
import time

import grpc
import openai
import orjson
import pytest

from core.store.base import LogQuery
from gateway.v1 import chat_pb2, route_service_pb2 as pb
from tests.logs.conftest import ADMIN, LoggingCore

MESSAGES = [{"role": "user", "content": "hello there gateway"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def rid(name: str) -> dict[str, str]:
    return {"x-request-id": name}


async def test_concurrent_mixed_requests_give_exactly_one_record_each(
    logging_core: LoggingCore,
) -> None:
    async def one(i: int) -> None:
        headers = rid(f"req-{i}")
        if i % 2:
            stream = await logging_core.openai.chat.completions.create(
                model="mock-main/echo", messages=MESSAGES, stream=True, extra_headers=headers
            )
            async for _ in stream:
                pass
        else:
            await logging_core.openai.chat.completions.create(
                model="mock-main/echo", messages=MESSAGES, extra_headers=headers
            )

    await asyncio.gather(*(one(i) for i in range(200)))
    records = await logging_core.records()
    assert sorted(records) == sorted(f"req-{i}" for i in range(200))
    assert sum(r.stream for r in records.values()) == 100
    assert {r.status for r in records.values()} == {"success"}
    assert logging_core.sample("llm_gateway_log_records_written_total") == 200
    assert logging_core.sample("llm_gateway_log_journal_records") == 0


async def test_success_record_fields(logging_core: LoggingCore) -> None:
    before = time.time_ns() // 1_000_000
    reply = await logging_core.openai.chat.completions.create(
        model="mock-main/echo",
        messages=MESSAGES,
        temperature=0.5,
        extra_headers={
            **rid("ok-1"),
            "X-TFY-METADATA": json.dumps({"application": "booking-bot", "env": "staging"}),
        },
    )
    record = (await logging_core.records())["ok-1"]
    assert before <= record.created_at <= time.time_ns() // 1_000_000
    assert record.model == "mock-main/echo"
    assert record.resolved_model == "mock-main/echo"
    assert record.provider_account == "mock-main"
    assert record.subject == "user:admin"
    assert record.key_id == "admin"
    assert record.metadata == {"application": "booking-bot", "env": "staging"}
    assert (record.status, record.http_status, record.error_code) == ("success", 200, "")
    assert record.stream is False
    assert reply.usage is not None
    assert record.input_tokens == reply.usage.prompt_tokens == 3
    assert record.output_tokens == reply.usage.completion_tokens == 3
    assert record.total_tokens == 6
    assert record.cost == pytest.approx((3 * 1.5 + 3 * 4.0) / 1_000_000)
    assert record.latency_ms > 0
    assert record.ttft_ms is None
    assert len(record.attempts) == 1
    attempt = record.attempts[0]
    assert (attempt.model, attempt.http_status, attempt.error_code) == ("mock-main/echo", 200, "")
    assert 0 < attempt.latency_ms <= record.latency_ms
    assert record.request_body is not None
    assert orjson.loads(record.request_body)["messages"] == MESSAGES
    assert orjson.loads(record.request_body)["temperature"] == 0.5
    assert record.response_body is not None
    assert (
        orjson.loads(record.response_body)["choices"][0]["message"]["content"]
        == "hello there gateway"
    )
    assert orjson.loads(record.response_body)["id"] == reply.id
    assert (
        logging_core.sample(
            "llm_gateway_requests_total",
            model="mock-main/echo",
            provider="mock-main",
            status="success",
        )
        == 1
    )
    assert (
        logging_core.sample(
            "llm_gateway_input_tokens_total",
            model="mock-main/echo",
            provider="mock-main",
            status="success",
        )
        == 3
    )


async def test_stream_record_has_ttft_and_assembled_response(logging_core: LoggingCore) -> None:
    stream = await logging_core.openai.chat.completions.create(
        model="mock-main/echo",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers=rid("stream-1"),
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    record = (await logging_core.records())["stream-1"]
    assert record.stream is True
    assert record.status == "success"
    assert record.ttft_ms is not None
    assert 0 < record.ttft_ms <= record.latency_ms
    assert record.response_body is not None
    assert orjson.loads(record.response_body)["choices"][0]["message"]["content"] == text
    assert orjson.loads(record.response_body)["choices"][0]["finish_reason"] == "stop"
    assert (record.input_tokens, record.output_tokens) == (3, 3)


async def test_upstream_error_record(logging_core: LoggingCore) -> None:
    with pytest.raises(openai.APIStatusError):
        await logging_core.openai.chat.completions.create(
            model="mock-main/echo",
            messages=MESSAGES,
            extra_body={"mock": {"status": 503, "message": "overloaded"}},
            extra_headers=rid("err-1"),
        )
    record = (await logging_core.records())["err-1"]
    assert record.status == "error"
    assert record.http_status == 502
    assert record.error_code == "upstream_error"
    assert "overloaded" in record.error_message
    assert record.attempts[0].http_status == 503  # what the provider answered
    assert record.attempts[0].error_code == "upstream_error"
    assert (record.input_tokens, record.output_tokens, record.cost) == (0, 0, 0.0)
    assert record.request_body is not None
    assert record.response_body is None


async def test_unknown_model_is_recorded_without_attempts(logging_core: LoggingCore) -> None:
    with pytest.raises(openai.NotFoundError):
        await logging_core.openai.chat.completions.create(
            model="nope/missing", messages=MESSAGES, extra_headers=rid("missing-1")
        )
    record = (await logging_core.records())["missing-1"]
    assert (record.status, record.http_status, record.error_code) == (
        "error",
        404,
        "model_not_found",
    )
    assert record.model == "nope/missing"
    assert record.resolved_model == ""
    assert record.attempts == ()


async def test_cut_stream_is_an_error_with_what_was_received(logging_core: LoggingCore) -> None:
    call = logging_core.route.StreamRoute(
        pb.StreamRouteRequest(params=_params(extras={"mock": {"cut_after": 2}})),
        metadata=(*ADMIN, ("x-request-id", "cut-1")),
    )
    received = [await call.read(), await call.read()]
    assert all(m.delta.content for m in received)
    with pytest.raises(grpc.aio.AioRpcError):
        await call.read()
    record = (await logging_core.records())["cut-1"]
    assert (record.status, record.http_status, record.error_code) == (
        "error",
        502,
        "upstream_stream_cut",
    )
    assert record.ttft_ms is not None
    assert record.response_body is not None
    assert orjson.loads(record.response_body)["choices"][0]["message"]["content"] == "hello there"


async def test_cancelled_stream_is_recorded(logging_core: LoggingCore) -> None:
    call = logging_core.route.StreamRoute(
        pb.StreamRouteRequest(params=_params(model="slow/stream")),
        metadata=(*ADMIN, ("x-request-id", "cancel-1")),
    )
    first = await call.read()
    assert first.delta.content
    call.cancel()
    await logging_core.submissions.reach(1)
    record = (await logging_core.records())["cancel-1"]
    assert (record.status, record.http_status, record.error_code) == ("error", 499, "cancelled")
    assert record.stream is True
    assert record.resolved_model == "slow/stream"
    assert record.response_body is not None
    assert orjson.loads(record.response_body)["choices"][0]["message"]["content"].startswith("tok")


async def test_tool_calls_are_in_both_bodies(logging_core: LoggingCore) -> None:
    for stream in (False, True):
        response = await logging_core.openai.chat.completions.create(
            model="mock-main/echo",
            messages=MESSAGES,
            tools=[WEATHER_TOOL],  # type: ignore[list-item]
            stream=stream,
            extra_headers=rid(f"tools-{stream}"),
        )
        if stream:
            async for _ in response:  # type: ignore[union-attr]
                pass
    # The stream's [DONE] may reach the client before core has finished the call's trace.
    await logging_core.submissions.reach(2)
    records = await logging_core.records()
    for stream in (False, True):
        record = records[f"tools-{stream}"]
        assert record.request_body is not None
        assert orjson.loads(record.request_body)["tools"][0]["function"]["name"] == "get_weather"
        assert record.response_body is not None
        choice = orjson.loads(record.response_body)["choices"][0]
        assert choice["finish_reason"] == "tool_calls"
        call = choice["message"]["tool_calls"][0]
        assert call["function"] == {"name": "get_weather", "arguments": '{"city":"mock"}'}


async def test_log_request_false_keeps_bodies_out_but_counts(logging_core: LoggingCore) -> None:
    await logging_core.openai.chat.completions.create(
        model="mock-main/echo",
        messages=MESSAGES,
        extra_headers={**rid("quiet-1"), "X-TFY-METADATA": '{"tfy_log_request": "false"}'},
    )
    record = (await logging_core.records())["quiet-1"]
    assert record.request_body is None
    assert record.response_body is None
    assert record.metadata == {"tfy_log_request": "false"}
    assert (record.input_tokens, record.output_tokens) == (3, 3)
    assert record.cost > 0


async def test_embedding_record(logging_core: LoggingCore) -> None:
    await logging_core.openai.embeddings.create(
        model="mock-main/embed", input=["one two", "three"], extra_headers=rid("emb-1")
    )
    record = (await logging_core.records())["emb-1"]
    assert record.status == "success"
    assert record.resolved_model == "mock-main/embed"
    assert (record.input_tokens, record.total_tokens) == (3, 3)
    assert record.cost == pytest.approx(3 * 0.5 / 1_000_000)
    assert record.request_body is not None
    assert orjson.loads(record.request_body)["input"] == ["one two", "three"]
    assert record.response_body is not None
    assert len(orjson.loads(record.response_body)["data"]) == 2


async def test_grpc_call_metadata_is_read_when_the_typed_field_is_empty(
    logging_core: LoggingCore,
) -> None:
    await logging_core.route.Route(
        pb.RouteRequest(params=_params()),
        metadata=(*ADMIN, ("x-request-id", "grpc-md"), ("x-tfy-metadata", '{"team": "search"}')),
    )
    await logging_core.route.Route(
        pb.RouteRequest(params=_params(), metadata={"typed": "yes"}),
        metadata=(*ADMIN, ("x-request-id", "grpc-typed"), ("x-tfy-metadata", '{"x": "y"}')),
    )
    records = await logging_core.records()
    assert records["grpc-md"].metadata == {"team": "search"}
    assert records["grpc-typed"].metadata == {"typed": "yes"}


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ("not json", "must be a JSON object"),
        ('["a"]', "must be a JSON object"),
        ('{"n": 1}', "key 'n' must be a string"),
        ('{"nested": {"a": "b"}}', "key 'nested' must be a string"),
        ('{"long": "' + "x" * 129 + '"}', "key 'long' is longer than 128"),
    ],
)
async def test_invalid_grpc_call_metadata_is_rejected_naming_the_key(
    logging_core: LoggingCore, raw: str, named: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await logging_core.route.Route(
            pb.RouteRequest(params=_params()), metadata=(*ADMIN, ("x-tfy-metadata", raw))
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert named in (caught.value.details() or "")


def _params(
    model: str = "mock-main/echo", extras: dict[str, object] | None = None
) -> chat_pb2.ChatParams:
    from codec import chat_params_from_json

    return chat_params_from_json({"model": model, "messages": MESSAGES, **(extras or {})})


async def test_a_reused_request_id_still_gives_each_call_its_own_record(
    logging_core: LoggingCore,
) -> None:
    for _ in range(3):
        await logging_core.openai.chat.completions.create(
            model="mock-main/echo", messages=MESSAGES, extra_headers=rid("same-id")
        )
    await logging_core.pipeline.flush()
    stored = await logging_core.store.query_logs(LogQuery(limit=10))
    assert stored.total == 3
    assert len({r.id for r in stored.records}) == 3
    assert all(r.id.startswith("same-id.") for r in stored.records)
