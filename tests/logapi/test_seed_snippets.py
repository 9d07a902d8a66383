"""The seed's Python (requests) and curl snippets, verbatim but for host and key."""

from __future__ import annotations

import ast
import asyncio
import json
import shutil
import sys
from typing import Any

import pytest

from tests.logapi.conftest import LogGateway
from tests.logapi.records import ADMIN_KEY, RECORDS, SEED_FROM, SEED_TO

# From seeds/request-logging-and-metrics.txt; only the URL host and the key are replaced.
PYTHON_SNIPPET = """
import requests
import json
try:
    response = requests.post(
        "https://internal.devtest.truefoundry.tech/api/svc/v1/llm-gateway/requests",
        headers = {
            "Authorization": "Bearer <Paste your API key here. You can generate it from the Settings Page>"
        },
        json = {
            "filter": {
                "created_at": [
                    {
                        "key": "created_at",
                        "value": 1731577557568,
                        "operator": "LT"
                    },
                    {
                        "key": "created_at",
                        "value": 1731566757568,
                        "operator": "GTE"
                    }
                ]
            },
            "sort": [
                {
                    "key": "created_at",
                    "order": "DESC"
                }
            ],
            "limit": 25,
            "offset": 0
        }
    )
    response.raise_for_status()
    print(response.status_code)
    print(response.json())
except requests.exceptions.HTTPError as http_error:
    print("HTTP error occurred:", http_error)
"""

CURL_SNIPPET = [
    "curl", "-X", "POST",
    "https://internal.devtest.truefoundry.tech/api/svc/v1/llm-gateway/requests",
    "-H", "accept: */*",
    "-H", "Authorization: Bearer <Paste your API key here. You can generate it from the Settings Page>",
    "-H", "Content-Type: application/json",
    "-d", """{
"filter": {
"created_at": [
{
"key": "created_at",
"value": 1731577557568,
"operator": "LT"
},
{
"key": "created_at",
"value": 1731566757568,
"operator": "GTE"
}
]
},
"sort": [
{
"key": "created_at",
"order": "DESC"
}
],
"limit": 25,
"offset": 0
}""",
]  # fmt: skip

SEED_HOST = "https://internal.devtest.truefoundry.tech"
SEED_KEY = "<Paste your API key here. You can generate it from the Settings Page>"


def expected_seed_page() -> list[str]:
    """Ids in the seed's window, newest first: the first 25."""
    inside = [r for r in RECORDS if SEED_FROM <= r.created_at < SEED_TO]
    inside.sort(key=lambda r: r.created_at, reverse=True)
    return [r.id for r in inside]


def check_page(body: dict[str, Any]) -> None:
    expected = expected_seed_page()
    assert len(expected) > 25  # the window holds more than one page
    assert [r["id"] for r in body["data"]] == expected[:25]
    assert body["pagination"] == {"total": len(expected), "limit": 25, "offset": 0}
    for record in body["data"]:
        assert SEED_FROM <= record["created_at"] < SEED_TO
        assert isinstance(record["metadata"], dict)


async def run(*argv: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_python_snippet_verbatim(logs_gateway: LogGateway) -> None:
    code = PYTHON_SNIPPET.replace(SEED_HOST, logs_gateway.http_url).replace(SEED_KEY, ADMIN_KEY)
    out = await run(sys.executable, "-c", code)
    status, printed = out.strip().split("\n", 1)
    assert status == "200"
    check_page(ast.literal_eval(printed))


async def test_curl_snippet_verbatim(logs_gateway: LogGateway) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    argv = [
        part.replace(SEED_HOST, logs_gateway.http_url).replace(SEED_KEY, ADMIN_KEY)
        for part in CURL_SNIPPET
    ]
    check_page(json.loads(await run(*argv)))


async def test_curl_body_through_httpx(logs_gateway: LogGateway) -> None:
    """The same JSON body, for machines without curl."""
    async with logs_gateway.http() as http:
        response = await http.post(
            logs_gateway.requests_url,
            content=CURL_SNIPPET[-1],
            headers={"accept": "*/*", "content-type": "application/json"},
        )
    assert response.status_code == 200
    check_page(response.json())


async def test_python_snippet_reports_http_errors(logs_gateway: LogGateway) -> None:
    code = PYTHON_SNIPPET.replace(SEED_HOST, logs_gateway.http_url).replace(SEED_KEY, "wrong")
    out = await run(sys.executable, "-c", code)
    assert out.startswith("HTTP error occurred: 401")
