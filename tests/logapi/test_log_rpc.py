"""LogService.Log: an internal service records a call made elsewhere; ListLogs then finds it."""

from __future__ import annotations

import time

import grpc
import pytest
from google.protobuf import struct_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from core import interceptors
from core.auth import Principal
from core.logs.convert import duration_from_ms
from core.servicers.logs import LogServicer
from core.store.base import LogRecord
from gateway.v1 import chat_pb2, log_pb2, log_service_pb2
from gateway_client import InvalidRequestError, log_filter
from tests.logapi.conftest import REQUESTS_PATH, LogGateway
from tests.logapi.records import ADMIN_KEY, ALICE, CAROL, KEYS


def outside_call(**changes: object) -> log_pb2.LogEntry:
    entry = log_pb2.LogEntry(
        model="openai-main/gpt-4o",
        resolved_model="openai-main/gpt-4o",
        provider_account="openai-main",
        metadata={"application": "batch-job", "customer_id": "777"},
        status=log_pb2.LOG_STATUS_SUCCESS,
        usage=chat_pb2.Usage(input_tokens=11, output_tokens=22, total_tokens=33),
        cost=0.0042,
        latency=duration_from_ms(812.5),
        request_body=struct_pb2.Struct(),
    )
    entry.request_body.update({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    for name, value in changes.items():
        field = getattr(entry, name)
        if isinstance(value, dict):
            field.clear()
            field.update(value)
        elif isinstance(value, list):
            field[:] = value
        elif hasattr(value, "DESCRIPTOR"):
            field.CopyFrom(value)
        else:
            setattr(entry, name, value)
    return entry


async def test_log_then_list_finds_it(logs_gateway: LogGateway) -> None:
    before = time.time_ns() // 1_000_000
    async with logs_gateway.grpc(ALICE) as client:
        log_id = await client.logs.log(outside_call(subject="user:mallory@example.com"))
        page = await client.logs.list(
            filters=[log_filter("metadata.application", "EQ", "batch-job")]
        )
    assert [e.id for e in page.log_entries] == [log_id]
    entry = page.log_entries[0]
    # Attributed to the caller's key, whatever the entry claimed.
    assert entry.subject == KEYS[ALICE].subject
    assert entry.key_id == KEYS[ALICE].id
    assert list(entry.teams) == list(KEYS[ALICE].teams)
    assert before <= entry.create_time.ToMilliseconds() <= time.time_ns() // 1_000_000
    assert entry.http_status == 200
    assert entry.usage.total_tokens == 33
    async with logs_gateway.http(ALICE) as http:
        record = (await http.get(f"{REQUESTS_PATH}/{log_id}")).json()
    assert record["latency_ms"] == 812.5
    assert record["cost"] == 0.0042
    assert record["request"] == {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    assert record["response"] is None
    assert record["metadata"] == {"application": "batch-job", "customer_id": "777"}


FAR_FUTURE = Timestamp(seconds=4_102_444_800)  # 2100

# Integers beyond 2**53 and 2**64, `1.0`, key order and spacing: what a Struct would lose.
FAITHFUL_REQUEST = (
    '{"model": "gpt-4o", "temperature": 1.0, "seed": 123456789012345678901234567890,'
    ' "logit_bias": {"9007199254740993": -100}, "n": 9007199254740993}'
)
FAITHFUL_RESPONSE = '{"choices":[{"message":{"content":"hi"}}],"usage":{"total_tokens":1.0}}'


async def test_bodies_come_back_byte_for_byte(logs_gateway: LogGateway) -> None:
    entry = outside_call(request_json=FAITHFUL_REQUEST, response_json=FAITHFUL_RESPONSE)
    async with logs_gateway.grpc(ALICE) as client:
        log_id = await client.logs.log(entry)
        stored = await client.logs.get(log_id)
    assert (stored.request_json, stored.response_json) == (FAITHFUL_REQUEST, FAITHFUL_RESPONSE)
    assert not stored.HasField("request_body")  # the deprecated Struct is never filled
    async with logs_gateway.http(ALICE) as http:
        raw = (await http.get(f"{REQUESTS_PATH}/{log_id}")).content
        listed = (await http.post(REQUESTS_PATH, json={"limit": 1})).content
    for text in (FAITHFUL_REQUEST, FAITHFUL_RESPONSE):
        assert text.encode() in raw
        assert text.encode() in listed


async def test_log_keeps_a_given_id_and_time_and_lets_the_admin_attribute(
    logs_gateway: LogGateway,
) -> None:
    entry = outside_call(id="ext-1", subject="user:carol@example.com", teams=["team:blue"])
    entry.create_time.FromMilliseconds(1_700_000_000_123)
    async with logs_gateway.grpc(ADMIN_KEY) as client:
        assert await client.logs.log(entry) == "ext-1"
        assert await client.logs.log(entry) == "ext-1"  # idempotent by id
    async with logs_gateway.grpc(CAROL) as client:
        stored = await client.logs.get("ext-1")
        page = await client.logs.list(filters=[log_filter("id", "EQ", "ext-1")])
    assert stored.subject == "user:carol@example.com"
    assert stored.key_id == "admin"
    assert stored.create_time.ToMilliseconds() == 1_700_000_000_123
    assert page.total_size == 1


@pytest.mark.parametrize(
    ("entry", "param", "words"),
    [
        (outside_call(metadata={"note": "x" * 129}), "log_entry.metadata.note", ["'note'", "128"]),
        (outside_call(model=""), "log_entry.model", ["model"]),
        (outside_call(cost=-1.0), "log_entry.cost", ["cost"]),
        (outside_call(id="x" * 129), "log_entry.id", ["id"]),
        (outside_call(http_status=999), "log_entry.http_status", ["999"]),
        (outside_call(metadata={"": "x"}), "log_entry.metadata", ["empty"]),
        (
            outside_call(usage=chat_pb2.Usage(input_tokens=-1)),
            "log_entry.usage.input_tokens",
            ["input_tokens"],
        ),
        (outside_call(latency=Duration(seconds=-1)), "log_entry.latency", ["negative"]),
        (outside_call(request_json='{"a": '), "log_entry.request_json", ["not JSON"]),
        (outside_call(cost=1e10), "log_entry.cost", ["10000"]),
        (
            outside_call(usage=chat_pb2.Usage(output_tokens=10**12)),
            "log_entry.usage.output_tokens",
            ["output_tokens"],
        ),
        (outside_call(create_time=FAR_FUTURE), "log_entry.create_time", ["future"]),
        (outside_call(response_json="nope"), "log_entry.response_json", ["not JSON"]),
        (outside_call(api="Batch Job"), "log_entry.api", ["a-z"]),
    ],
)
async def test_log_rejects_what_it_cannot_store(
    logs_gateway: LogGateway, entry: log_pb2.LogEntry, param: str, words: list[str]
) -> None:
    async with logs_gateway.grpc(ALICE) as client:
        with pytest.raises(InvalidRequestError) as raised:
            await client.logs.log(entry)
        assert (await client.logs.list()).total_size == 15  # alice's own: nothing was added
    assert raised.value.param == param
    for word in words:
        assert word in raised.value.message


async def test_log_goes_through_the_sink_when_there_is_one(logs_gateway: LogGateway) -> None:
    seen: list[LogRecord] = []
    servicer = LogServicer(logs_gateway.store, sink=seen.append)
    token = interceptors._principal.set(Principal("user:x", "key-x"))
    try:
        request = log_service_pb2.LogRequest(log_entry=outside_call())
        answer = await servicer.Log(request, None)  # type: ignore[arg-type]
    finally:
        interceptors._principal.reset(token)
    assert [r.id for r in seen] == [answer.id]
    assert seen[0].subject == "user:x"
    assert await logs_gateway.store.get_log(answer.id) is None  # the sink, not the store


async def test_log_needs_an_entry_and_an_open_client(logs_gateway: LogGateway) -> None:
    client = logs_gateway.grpc(ALICE)
    with pytest.raises(RuntimeError, match="not open"):
        await client.logs.get("req-001")
    async with client:
        stub = client.logs._service()
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.Log(
                log_service_pb2.LogRequest(), metadata=(("authorization", f"Bearer {ALICE}"),)
            )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "log_entry is required" in (raised.value.details() or "")
