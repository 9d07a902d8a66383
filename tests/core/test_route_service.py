"""RouteService over a real socket with the built-in mock provider."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from core.config.models import ProviderAccount
from core.providers.base import ChatCall, ChatEvent
from core.providers.mock import MockProvider
from gateway.v1 import (
    chat_pb2 as chat,
    log_service_pb2,
    log_service_pb2_grpc,
    route_service_pb2 as pb,
)
from tests.core.conftest import ALICE_KEY, CoreHandle, auth, start_core


def params(
    text: str = "hello gateway world", model: str = "mock-main/echo", **kw: object
) -> chat.ChatParams:
    return chat.ChatParams(
        model=model, messages=[chat.Message(role=chat.ROLE_USER, text=text)], **kw
    )  # type: ignore[arg-type]


def error_info(err: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            info = error_details_pb2.ErrorInfo()
            assert status.details[0].Unpack(info)
            return info
    raise AssertionError("no ErrorInfo in trailers")


async def test_route_returns_whole_answer_with_usage_and_headers(core: CoreHandle) -> None:
    call = core.route.Route(pb.RouteRequest(params=params()), metadata=auth())
    response = await call
    headers = dict(await call.initial_metadata())
    result = response.result
    assert result.choices[0].message.text == "hello gateway world"
    assert result.choices[0].finish_reason == chat.FINISH_REASON_STOP
    assert result.model == "mock-main/echo"
    assert result.id == f"chatcmpl-{headers['x-request-id']}"
    assert headers["x-tfy-resolved-model"] == "mock-main/echo"
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens) == (
        3,
        3,
        6,
    )
    assert result.create_time.seconds > 0


async def test_caller_request_id_is_kept(core: CoreHandle) -> None:
    call = core.route.Route(
        pb.RouteRequest(params=params()), metadata=(*auth(), ("x-request-id", "abc-123"))
    )
    assert (await call).result.id == "chatcmpl-abc-123"


async def test_stream_route_sends_deltas_then_result(core: CoreHandle) -> None:
    call = core.route.StreamRoute(pb.StreamRouteRequest(params=params()), metadata=auth())
    events = [e async for e in call]
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds == ["delta", "delta", "delta", "result"]
    assert "".join(e.delta.content for e in events[:-1]) == "hello gateway world"
    assert events[0].delta.role == chat.ROLE_ASSISTANT
    assert events[-1].result.choices[0].message.text == "hello gateway world"
    assert events[-1].result.usage.total_tokens == 6
    assert dict(await call.initial_metadata())["x-tfy-resolved-model"] == "mock-main/echo"


async def test_tools_produce_parallel_tool_calls(core: CoreHandle) -> None:
    tools = [
        chat.Tool(type="function", function=chat.FunctionDefinition(name=name))
        for name in ("get_weather", "get_time")
    ]
    result = (
        await core.route.Route(pb.RouteRequest(params=params(tools=tools)), metadata=auth())
    ).result
    calls = result.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert result.choices[0].finish_reason == chat.FINISH_REASON_TOOL_CALLS
    events = [
        e
        async for e in core.route.StreamRoute(
            pb.StreamRouteRequest(params=params(tools=tools)), metadata=auth()
        )
    ]
    assert [d.delta.tool_calls[0].index for d in events[:-1]] == [0, 1]


async def test_config_key_authenticates(core: CoreHandle) -> None:
    response = await core.route.Route(pb.RouteRequest(params=params()), metadata=auth(ALICE_KEY))
    assert response.result.choices[0].message.text


@pytest.mark.parametrize("metadata", [(), auth("wrong"), (("authorization", "Basic abc"),)])
async def test_missing_or_bad_key_is_unauthenticated(
    core: CoreHandle, metadata: tuple[tuple[str, str], ...]
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await core.route.Route(pb.RouteRequest(params=params()), metadata=metadata)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    info = error_info(raised.value)
    assert (info.reason, info.domain, info.metadata["http_status"]) == (
        "invalid_api_key",
        "llm-gateway",
        "401",
    )
    assert "wrong" not in (raised.value.details() or "")


@pytest.mark.parametrize(
    ("request_params", "code", "reason", "http", "param"),
    [
        (params(model="nope/none"), grpc.StatusCode.NOT_FOUND, "model_not_found", "404", "model"),
        (
            params(model="mock-main/embed"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
            "400",
            "model",
        ),
        (
            chat.ChatParams(model="mock-main/echo"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
            "400",
            "messages",
        ),
        (
            chat.ChatParams(messages=[chat.Message(role=chat.ROLE_USER, text="x")]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
            "400",
            "model",
        ),
        (
            chat.ChatParams(model="mock-main/echo", messages=[chat.Message(text="x")]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
            "400",
            "messages[0].role",
        ),
    ],
)
async def test_bad_requests_map_to_statuses(
    core: CoreHandle,
    request_params: chat.ChatParams,
    code: grpc.StatusCode,
    reason: str,
    http: str,
    param: str,
) -> None:
    for rpc in (core.route.Route(pb.RouteRequest(params=request_params), metadata=auth()),):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await rpc
        assert raised.value.code() == code
        info = error_info(raised.value)
        assert (info.reason, info.metadata["http_status"], info.metadata["param"]) == (
            reason,
            http,
            param,
        )
    with pytest.raises(grpc.aio.AioRpcError) as streamed:
        async for _ in core.route.StreamRoute(
            pb.StreamRouteRequest(params=request_params), metadata=auth()
        ):
            pass
    assert streamed.value.code() == code


def faulty(fault: dict[str, object]) -> chat.ChatParams:
    p = params()
    p.extras.update({"mock": fault})
    return p


@pytest.mark.parametrize(
    ("fault", "code", "reason", "http"),
    [
        ({"status": 503}, grpc.StatusCode.UNAVAILABLE, "upstream_error", "502"),
        (
            {"status": 429, "message": "slow down"},
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "upstream_rejected",
            "429",
        ),
        ({"status": 400}, grpc.StatusCode.INVALID_ARGUMENT, "upstream_rejected", "400"),
        ({"status": 418}, grpc.StatusCode.FAILED_PRECONDITION, "upstream_rejected", "418"),
        ({"timeout": True}, grpc.StatusCode.DEADLINE_EXCEEDED, "upstream_timeout", "504"),
    ],
)
async def test_provider_failures_map_to_statuses(
    core: CoreHandle, fault: dict[str, object], code: grpc.StatusCode, reason: str, http: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await core.route.Route(pb.RouteRequest(params=faulty(fault)), metadata=auth())
    assert raised.value.code() == code
    info = error_info(raised.value)
    assert (info.reason, info.metadata["http_status"]) == (reason, http)
    assert "mock-main/echo" in (raised.value.details() or "")


async def test_cut_stream_ends_with_error_after_deltas(core: CoreHandle) -> None:
    call = core.route.StreamRoute(
        pb.StreamRouteRequest(params=faulty({"cut_after": 2})), metadata=auth()
    )
    received = []

    async def consume() -> None:
        async for event in call:
            received.append(event)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await consume()
    assert [e.WhichOneof("event") for e in received] == ["delta", "delta"]
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_info(raised.value).reason == "upstream_stream_cut"


async def test_list_models_and_embed(core: CoreHandle) -> None:
    models = (await core.route.ListModels(pb.ListModelsRequest(), metadata=auth())).models
    assert [(m.id, m.kind) for m in models] == [
        ("mock-main/echo", pb.MODEL_KIND_CHAT),
        ("mock-main/embed", pb.MODEL_KIND_EMBEDDING),
    ]
    response = await core.route.Embed(
        pb.EmbedRequest(model="mock-main/embed", inputs=["a b", "c"]), metadata=auth()
    )
    assert [len(e.values) for e in response.embeddings] == [8, 8]
    assert response.model == "mock-main/embed"
    assert response.usage.input_tokens == 3
    again = await core.route.Embed(
        pb.EmbedRequest(model="mock-main/embed", inputs=["a b"]), metadata=auth()
    )
    assert list(again.embeddings[0].values) == list(response.embeddings[0].values)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await core.route.Embed(
            pb.EmbedRequest(model="mock-main/echo", inputs=["a"]), metadata=auth()
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_health_and_reflection_need_no_key(core: CoreHandle) -> None:
    health = health_pb2_grpc.HealthStub(core.channel)
    for service in ("", "gateway.v1.RouteService"):
        answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_log_service_is_served(core: CoreHandle) -> None:
    stub = log_service_pb2_grpc.LogServiceStub(core.channel)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetLog(log_service_pb2.GetLogRequest(id="x"), metadata=auth())
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_info(raised.value).reason == "log_not_found"
    assert error_info(raised.value).metadata["http_status"] == "404"


class BrokenProvider(MockProvider):
    async def chat(self, call: ChatCall) -> AsyncIterator[ChatEvent]:
        raise RuntimeError("secret internals /etc/passwd")
        yield  # pragma: no cover


async def test_unexpected_errors_are_internal_without_details() -> None:
    def factory(account: ProviderAccount, api_key: str | None) -> BrokenProvider:
        return BrokenProvider(account)

    async for handle in start_core(provider_factory=factory):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await handle.route.Route(pb.RouteRequest(params=params()), metadata=auth())
        assert raised.value.code() == grpc.StatusCode.INTERNAL
        assert "secret" not in (raised.value.details() or "")
        assert "request id" in (raised.value.details() or "")


async def test_list_models_shows_a_restricted_key_only_its_models(core: CoreHandle) -> None:
    from core.auth import key_digest
    from core.store.base import ApiKeyRecord

    await core.store.insert_key(
        ApiKeyRecord(
            id="key_restricted",
            digest=key_digest("restricted-secret"),
            prefix="restricted",
            subject="user:bob@example.com",
            created_at=1,
            models=("mock-main/echo",),
        )
    )
    models = (
        await core.route.ListModels(pb.ListModelsRequest(), metadata=auth("restricted-secret"))
    ).models
    assert [m.id for m in models] == ["mock-main/echo"]
