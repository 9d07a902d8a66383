"""`X-TFY-METADATA` over HTTP: the facade forwards it as received and core applies the rule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import MOCK_CONFIG
from tests.harness import RunningGateway, run_gateway

CHAT = "/v1/chat/completions"
EMBEDDINGS = "/v1/embeddings"
BODY = {"model": "mock-main/echo", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def http(gateway: RunningGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=gateway.http_url, headers={"authorization": f"Bearer {gateway.admin_key}"}
    ) as client:
        yield client


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ("not json", "must be a JSON object"),
        ('["a", "b"]', "must be a JSON object"),
        ('"text"', "must be a JSON object"),
        ('{"app": "bot", "customer_id": 123}', "'customer_id'"),
        ('{"tier": "' + "x" * 129 + '"}', "'tier'"),
        ('{"nested": {"a": "b"}}', "'nested'"),
        ('{"flag": true}', "'flag'"),
        ('{"none": null}', "'none'"),
        ('{"": "empty key"}', "must not be empty"),
        ('{"' + "k" * 129 + '": "v"}', "longer than 128"),
    ],
)
@pytest.mark.parametrize("path", [CHAT, EMBEDDINGS])
async def test_bad_metadata_is_a_400_naming_the_key(
    http: httpx.AsyncClient, header: str, named: str, path: str
) -> None:
    body = BODY if path == CHAT else {"model": "mock-main/embed", "input": "x"}
    response = await http.post(path, json=body, headers={"x-tfy-metadata": header})
    assert response.status_code == 400
    error = response.json()["error"]
    assert named in error["message"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "invalid_metadata",
        "X-TFY-METADATA",
    )


async def test_the_key_is_checked_before_the_metadata(http: httpx.AsyncClient) -> None:
    response = await http.post(
        CHAT,
        json=BODY,
        headers={"x-tfy-metadata": "not json", "authorization": "Bearer wrong"},
    )
    assert response.status_code == 401


def test_utf8_metadata_reaches_the_log_record_unchanged(tmp_path: Path) -> None:
    metadata = {"application": "bøøking 🚀", "long": "é" * 128}
    with run_gateway(MOCK_CONFIG, data_dir=tmp_path) as gateway:
        response = httpx.post(
            gateway.http_url + CHAT,
            json=BODY,
            headers={
                "authorization": f"Bearer {gateway.admin_key}",
                "x-tfy-metadata": orjson.dumps(metadata),
            },
        )
        assert response.status_code == 200
    # Stopping drained the log pipeline into the store; a new gateway over it reads it back.
    with run_gateway(MOCK_CONFIG, data_dir=tmp_path) as gateway:
        found = httpx.post(
            gateway.http_url + "/api/svc/v1/llm-gateway/requests",
            headers={"authorization": f"Bearer {gateway.admin_key}"},
            json={"filter": {"metadata.application": [{"value": "bøøking 🚀", "operator": "EQ"}]}},
        )
    (record,) = found.json()["data"]
    assert record["metadata"] == metadata
