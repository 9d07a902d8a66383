"""Each call's record says which API it came in through, and the log API filters on it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import anthropic
import grpc
import httpx
import openai
import pytest

from gateway.v1 import chat_pb2
from gateway_client import GatewayClient, InvalidRequestError
from tests.conftest import MOCK_CONFIG
from tests.harness import run_gateway

MODEL = "mock-main/echo"


def _log_id(headers: Mapping[str, str]) -> str:
    # Sent only when it is not the request id (a caller's own x-request-id).
    assert "x-tfy-log-id" not in headers
    return headers["x-request-id"]


async def test_every_route_records_its_api_and_the_log_api_filters_on_it(tmp_path: Path) -> None:
    made: dict[str, str] = {}  # api -> the log id its answer named
    with run_gateway(MOCK_CONFIG, data_dir=tmp_path) as gateway:
        key = gateway.admin_key
        with openai.OpenAI(base_url=gateway.openai_base_url, api_key=key) as sdk:
            chat = sdk.chat.completions.with_raw_response.create(
                model=MODEL, messages=[{"role": "user", "content": "hi"}]
            )
            made["chat.completions"] = _log_id(chat.headers)
            legacy = sdk.completions.with_raw_response.create(model=MODEL, prompt="hi")
            made["completions"] = _log_id(legacy.headers)
            response = sdk.responses.with_raw_response.create(model=MODEL, input="hi")
            made["responses"] = _log_id(response.headers)
            embedded = sdk.embeddings.with_raw_response.create(model="mock-main/embed", input="hi")
            made["embeddings"] = _log_id(embedded.headers)
        with anthropic.Anthropic(base_url=gateway.http_url, api_key=key) as claude:
            message = claude.messages.with_raw_response.create(
                model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
            made["messages"] = _log_id(message.headers)
        async with GatewayClient(gateway.grpc_target, api_key=key) as client:
            params = chat_pb2.ChatParams(
                model=MODEL, messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, text="hi")]
            )
            made["grpc"] = (await client.route(params)).log_id
    with run_gateway(MOCK_CONFIG, data_dir=tmp_path) as gateway:  # every record is flushed
        headers = {"authorization": f"Bearer {gateway.admin_key}"}
        url = f"{gateway.http_url}/api/svc/v1/llm-gateway/requests"
        async with httpx.AsyncClient(headers=headers) as http:
            for api, log_id in made.items():
                record = (await http.get(f"{url}/{log_id}")).json()
                assert (record["id"], record["api"]) == (log_id, api)
            only = {"api": [{"key": "api", "value": "responses", "operator": "EQ"}]}
            page = (await http.post(url, json={"filter": only})).json()
        assert [r["id"] for r in page["data"]] == [made["responses"]]


@pytest.mark.parametrize("bad", ["", "Chat", "x" * 65, "1st", "a b"])
async def test_a_bad_api_name_over_grpc_is_400(bad: str, tmp_path: Path) -> None:
    with run_gateway(MOCK_CONFIG, data_dir=tmp_path) as gateway:
        async with GatewayClient(gateway.grpc_target, api_key=gateway.admin_key) as client:
            params = chat_pb2.ChatParams(
                model=MODEL, messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, text="hi")]
            )
            if bad == "":  # an empty value is no name: the call is a gRPC one
                assert (await client.route(params, api=bad)).resolved_model == MODEL
                return
            with pytest.raises(InvalidRequestError) as raised:
                await client.route(params, api=bad)
            assert raised.value.param == "x-gateway-api"
            assert raised.value.grpc_code == grpc.StatusCode.INVALID_ARGUMENT
