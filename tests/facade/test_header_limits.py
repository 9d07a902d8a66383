"""Headers over 64 KiB in total: 431 in OpenAI's envelope, before the key or metadata is read."""

from __future__ import annotations

import httpx
import orjson
from fastapi import FastAPI

from facade.header_limits import MAX_HEADER_BYTES
from tests.clients.fake_core import FakeCore
from tests.facade.envelope import CHAT, USER, error_of

BODY = {"model": "echo", "messages": USER}


def _headers_of_size(total: int, http: httpx.AsyncClient) -> dict[str, str]:
    """Extra headers making the request's headers (as the app sees them) total `total` bytes."""
    request = http.build_request("POST", CHAT, json=BODY, headers={"x-pad": ""})
    size = sum(len(name) + len(value) + 4 for name, value in request.headers.raw)
    return {"x-pad": "p" * (total - size)}


async def test_headers_at_the_limit_are_accepted(http: httpx.AsyncClient, core: FakeCore) -> None:
    response = await http.post(CHAT, json=BODY, headers=_headers_of_size(MAX_HEADER_BYTES, http))
    assert response.status_code == 200
    assert len(core.calls) == 1


async def test_one_byte_more_is_a_431(http: httpx.AsyncClient, core: FakeCore) -> None:
    headers = _headers_of_size(MAX_HEADER_BYTES + 1, http)
    response = await http.post(CHAT, json=BODY, headers=headers)
    assert response.status_code == 431
    error = error_of(response)
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "request_headers_too_large",
        None,
    )
    assert f"{MAX_HEADER_BYTES + 1} bytes" in error["message"]
    assert str(MAX_HEADER_BYTES) in error["message"]
    assert core.calls == []


async def test_a_huge_metadata_header_is_refused_before_anything_reads_it(
    app: FastAPI, core: FakeCore
) -> None:
    # 30,000 keys (about 560 KB), and no key: the size answers first, not the 401.
    metadata = orjson.dumps({f"key{i}": "v" for i in range(30_000)}).decode()
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://facade.test") as bare:
        response = await bare.post(CHAT, json=BODY, headers={"x-tfy-metadata": metadata})
    assert response.status_code == 431
    assert error_of(response)["code"] == "request_headers_too_large"
    assert core.calls == []


async def test_many_small_headers_count_together(http: httpx.AsyncClient, core: FakeCore) -> None:
    headers = {f"x-h{i}": "v" * 100 for i in range(1_000)}
    response = await http.get("/v1/models", headers=headers)
    assert response.status_code == 431
    assert core.calls == []
