"""A call through the whole gateway is then found through the log API (HTTP and gRPC)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from gateway_client import GatewayClient, log_filter
from tests.conftest import MOCK_CONFIG
from tests.harness import run_gateway
from tests.logapi.conftest import REQUESTS_PATH


def test_a_chat_call_is_found_through_the_log_api(tmp_path: Path) -> None:
    metadata = '{"customer_id": "e2e-1", "application": "log-api-test"}'
    with run_gateway(MOCK_CONFIG, data_dir=tmp_path) as gateway:
        chat = httpx.post(
            f"{gateway.openai_base_url}/v1/chat/completions",
            headers={"authorization": f"Bearer {gateway.admin_key}", "x-tfy-metadata": metadata},
            json={"model": "mock-main/echo", "messages": [{"role": "user", "content": "hi"}]},
            timeout=10,
        )
        assert chat.status_code == 200
    # Stopping drained the log pipeline into the store; a new gateway over it reads it back.
    with run_gateway(MOCK_CONFIG, data_dir=tmp_path) as gateway:
        response = httpx.post(
            gateway.http_url + REQUESTS_PATH,
            headers={"authorization": f"Bearer {gateway.admin_key}"},
            json={
                "filter": {
                    "metadata.customer_id": [
                        {"key": "metadata.customer_id", "value": "e2e-1", "operator": "EQ"}
                    ]
                }
            },
            timeout=10,
        )
        assert response.status_code == 200, response.text
        (record,) = response.json()["data"]
        assert record["model"] == record["resolved_model"] == "mock-main/echo"
        assert record["metadata"] == {"customer_id": "e2e-1", "application": "log-api-test"}
        assert record["status"] == "success"
        assert record["request"]["messages"] == [{"role": "user", "content": "hi"}]
        assert record["usage"]["total_tokens"] > 0

        async def over_grpc() -> list[str]:
            async with GatewayClient(gateway.grpc_target, api_key=gateway.admin_key) as client:
                page = await client.logs.list(
                    filters=[log_filter("metadata.application", "EQ", "log-api-test")]
                )
                return [entry.id for entry in page.log_entries]

        assert asyncio.run(over_grpc()) == [record["id"]]
