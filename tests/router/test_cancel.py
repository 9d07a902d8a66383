"""A gRPC caller that hangs up on a non-streaming call cancels it: core stops, and the upstream
request is closed (the provider stops generating and billing). grpc.aio cancels the handler;
this pins that down. The HTTP side is tests/e2e (facade/disconnect.py)."""

from __future__ import annotations

from gateway.v1 import chat_pb2, route_service_pb2
from tests.core.conftest import ADMIN_KEY, auth, start_core
from tests.fakes.upstream import FakeUpstream


async def test_hanging_up_a_unary_call_closes_the_upstream_request(
    fake_upstream: FakeUpstream,
) -> None:
    model = "router-hangup-slow-5000"
    config = f"""
name: up
type: provider-account
provider: openai
base_url: {fake_upstream.base_url}/v1
models: [{{name: {model}}}]
"""
    async for core in start_core(config):
        params = chat_pb2.ChatParams(
            model=f"up/{model}", messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, text="hi")]
        )
        call = core.route.Route(
            route_service_pb2.RouteRequest(params=params), metadata=auth(ADMIN_KEY)
        )
        assert await fake_upstream.received(model)
        call.cancel()
        assert await fake_upstream.disconnected(model)
        assert call.cancelled()
