"""API keys over HTTP with the admin key, and the access rules as HTTP callers meet them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from core.identity.keys import KeyManager, new_secret
from core.store.factory import open_store
from tests.harness import RunningGateway, run_gateway

CONFIG = """
name: mock-main
type: provider-account
provider: mock
models:
  - {name: echo}
  - {name: other}
  - {name: embed, kind: embedding}
"""
KEYS = "/api/svc/v1/keys"
INVALID_KEY_BODY = {
    "error": {
        "message": "invalid API key",
        "type": "authentication_error",
        "param": None,
        "code": "invalid_api_key",
    }
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gateway-data")


@pytest.fixture(scope="module")
def gateway(data_dir: Path) -> Iterator[RunningGateway]:
    with run_gateway(CONFIG, data_dir=data_dir) as running:
        yield running


@pytest.fixture
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.http_url, timeout=10) as client:
        yield client


def admin_headers(gateway: RunningGateway) -> dict[str, str]:
    return {"authorization": f"Bearer {gateway.admin_key}"}


def create(http: httpx.Client, gateway: RunningGateway, **body: Any) -> dict[str, Any]:
    response = http.post(KEYS, json=body, headers=admin_headers(gateway))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def issue_expired_key(data_dir: Path) -> str:
    """A key written straight into the gateway's store, issued a day ago by an hour."""
    store = open_store(uri=None, data_dir=data_dir)
    await store.open()
    try:
        yesterday = time.time() - 86_400
        issued = await KeyManager(store, ["mock-main/echo"], clock=lambda: yesterday).create(
            subject="user:old@example.com", expires_at=int((yesterday + 3_600) * 1000)
        )
    finally:
        await store.close()
    return issued.secret


def sdk(gateway: RunningGateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.openai_base_url, api_key=key, max_retries=0)


def chat(gateway: RunningGateway, key: str, model: str = "mock-main/echo") -> str | None:
    with sdk(gateway, key) as client:
        reply = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "ping"}]
        )
    return reply.choices[0].message.content


def test_key_lifecycle_with_the_openai_sdk(http: httpx.Client, gateway: RunningGateway) -> None:
    created = create(
        http, gateway, subject="user:alice@example.com", teams=["ml"], models=["mock-main/echo"]
    )
    secret = created["key"]
    assert secret.startswith("gw-")
    assert created["prefix"] == secret[:10]
    assert created["teams"] == ["team:ml"]
    assert created["admin_teams"] == []
    assert created["models"] == ["mock-main/echo"]
    assert abs(created["created_at"] - time.time() * 1000) < 60_000
    assert (created["expires_at"], created["last_used_at"], created["revoked_at"]) == (
        None,
        None,
        None,
    )
    assert chat(gateway, secret) == "ping"

    listed = http.get(
        KEYS, params={"subject": "user:alice@example.com"}, headers=admin_headers(gateway)
    )
    assert listed.status_code == 200
    assert secret not in listed.text
    [entry] = listed.json()["data"]
    assert "key" not in entry
    assert entry["id"] == created["id"]
    assert entry["prefix"] == secret[:10]

    rotated = http.post(f"{KEYS}/{created['id']}/rotate", headers=admin_headers(gateway))
    assert rotated.status_code == 200
    new_secret_ = rotated.json()["key"]
    assert rotated.json()["id"] == created["id"]
    assert new_secret_ != secret
    with pytest.raises(openai.AuthenticationError):
        chat(gateway, secret)
    assert chat(gateway, new_secret_) == "ping"

    revoked = http.delete(f"{KEYS}/{created['id']}", headers=admin_headers(gateway))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert "key" not in revoked.json()
    with pytest.raises(openai.AuthenticationError):
        chat(gateway, new_secret_)
    hidden = http.get(
        KEYS, params={"subject": "user:alice@example.com"}, headers=admin_headers(gateway)
    )
    assert hidden.json() == {"data": []}
    shown = http.get(
        KEYS,
        params={"subject": "user:alice@example.com", "include_revoked": "true"},
        headers=admin_headers(gateway),
    )
    assert [k["id"] for k in shown.json()["data"]] == [created["id"]]


def test_non_admin_keys_get_403_on_every_key_route(
    http: httpx.Client, gateway: RunningGateway
) -> None:
    user = create(http, gateway, subject="user:bob@example.com", admin_teams=["ml"])
    headers = {"authorization": f"Bearer {user['key']}"}
    answers = [
        http.post(KEYS, json={"subject": "user:eve@example.com"}, headers=headers),
        http.get(KEYS, headers=headers),
        http.delete(f"{KEYS}/{user['id']}", headers=headers),
        http.post(f"{KEYS}/{user['id']}/rotate", headers=headers),
    ]
    for answer in answers:
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "permission_denied"
        assert answer.json()["error"]["type"] == "permission_error"


def test_model_allow_list_answers_403_model_not_allowed(
    http: httpx.Client, gateway: RunningGateway
) -> None:
    secret = create(http, gateway, subject="virtualaccount:bot", models=["mock-main/echo"])["key"]
    assert chat(gateway, secret) == "ping"
    with sdk(gateway, secret) as client:
        with pytest.raises(openai.PermissionDeniedError) as chat_denied:
            client.chat.completions.create(
                model="mock-main/other", messages=[{"role": "user", "content": "x"}]
            )
        with pytest.raises(openai.PermissionDeniedError) as stream_denied:
            client.chat.completions.create(
                model="mock-main/other", messages=[{"role": "user", "content": "x"}], stream=True
            )
        with pytest.raises(openai.PermissionDeniedError) as embed_denied:
            client.embeddings.create(model="mock-main/embed", input="x")
    for denied in (chat_denied, stream_denied, embed_denied):
        assert denied.value.status_code == 403
        assert denied.value.code == "model_not_allowed"


def test_unknown_malformed_expired_and_revoked_keys_get_identical_401s(
    http: httpx.Client, gateway: RunningGateway, data_dir: Path
) -> None:
    expired = asyncio.run(issue_expired_key(data_dir))
    revoked = create(http, gateway, subject="user:gone@example.com")
    assert http.delete(f"{KEYS}/{revoked['id']}", headers=admin_headers(gateway)).is_success
    keys = [new_secret(), "gw-", "x", "gw-" + "A" * 200, expired, revoked["key"]]
    bodies = []
    for key in keys:
        answer = http.post(
            "/v1/chat/completions",
            json={"model": "mock-main/echo", "messages": [{"role": "user", "content": "x"}]},
            headers={"authorization": f"Bearer {key}"},
        )
        assert answer.status_code == 401
        bodies.append(answer.content)
    assert len(set(bodies)) == 1
    assert httpx.Response(401, content=bodies[0]).json() == INVALID_KEY_BODY


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ({}, "subject", "`subject` is required"),
        ({"subject": "alice"}, "subject", "invalid subject: expected `user:<email>`"),
        ({"subject": "user:a@example.com", "teams": "ml"}, "teams", "list of strings"),
        ({"subject": "user:a@example.com", "teams": ["bad name"]}, "teams", "invalid team"),
        (
            {"subject": "user:a@example.com", "models": ["mock-main/nope"]},
            "models",
            "unknown model 'mock-main/nope'",
        ),
        (
            {"subject": "user:a@example.com", "expires_at": "tomorrow"},
            "expires_at",
            "epoch milliseconds",
        ),
        ({"subject": "user:a@example.com", "expires_at": 1}, "expires_at", "future"),
        ({"subject": "user:a@example.com", "team": ["ml"]}, "team", "unknown field 'team'"),
    ],
)
def test_bad_create_bodies_get_400_naming_the_field(
    http: httpx.Client, gateway: RunningGateway, body: dict[str, Any], param: str, message: str
) -> None:
    answer = http.post(KEYS, json=body, headers=admin_headers(gateway))
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["param"] == param
    assert message in error["message"]


def test_unknown_ids_get_404_and_missing_keys_401(
    http: httpx.Client, gateway: RunningGateway
) -> None:
    for answer in (
        http.delete(f"{KEYS}/key_0000000000000000", headers=admin_headers(gateway)),
        http.post(f"{KEYS}/key_0000000000000000/rotate", headers=admin_headers(gateway)),
    ):
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "key_not_found"
    for answer in (http.get(KEYS), http.post(KEYS, json={"subject": "user:a@example.com"})):
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "invalid_api_key"
