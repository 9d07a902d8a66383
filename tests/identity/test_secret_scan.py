"""No secret (admin key, gateway keys, provider key) in error bodies, server logs or the store.

The gateway runs in front of the fake upstream, with a file-based provider key that the fake
echoes back on 401 (as real providers half-do), and is driven through success and failure:
once as a real `serve` process (its stderr scanned) and once in-process with every logger at
DEBUG (the records scanned, messages and arguments).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import openai
import pytest

from tests.fakes.upstream import FakeUpstream
from tests.harness import run_gateway
from tests.identity.processes import ADMIN_KEY, gateway_env, serve

PROVIDER_KEY = "sk-upstream-provider-secret-7f3a9c"


def config(fake: FakeUpstream, key_file: Path) -> str:
    return f"""
name: oai
type: provider-account
provider: openai
base_url: {fake.base_url}/v1
api_key_file: {key_file}
timeout_seconds: 5
models: [{{name: echo}}, {{name: fail-401}}, {{name: fail-500}}]
"""


@dataclass
class Run:
    """What one run exposed: the secrets in play and every answer that could leak them."""

    secrets: list[str] = field(default_factory=lambda: [ADMIN_KEY, PROVIDER_KEY])
    bodies: list[str] = field(default_factory=list)


def exercise(http_url: str) -> Run:
    """Creates, uses, rotates and revokes a key, and provokes every kind of error."""
    run = Run()
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=http_url, timeout=10) as http:

        def expect(response: httpx.Response, status: int) -> None:
            assert response.status_code == status, response.text
            run.bodies.append(response.text)

        def chat(model: str, key: str, **extra: object) -> httpx.Response:
            body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}
            return http.post(
                "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
            )

        created = http.post(
            "/api/svc/v1/keys",
            json={"subject": "user:scan@example.com", "models": ["oai/echo", "oai/fail-401"]},
            headers=admin,
        ).json()
        secret = created["key"]
        run.secrets.append(secret)
        assert chat("oai/echo", secret).status_code == 200
        with openai.OpenAI(base_url=f"{http_url}/v1", api_key=secret, max_retries=0) as client:
            stream = client.chat.completions.create(
                model="oai/echo", messages=[{"role": "user", "content": "a b"}], stream=True
            )
            assert list(stream)
        expect(chat("oai/fail-401", secret), 401)  # the provider echoes its key
        expect(chat("oai/fail-500", ADMIN_KEY), 502)
        expect(chat("oai/echo", ADMIN_KEY, stream="yes"), 400)
        expect(chat("oai/fail-500", secret), 403)  # not on the allow-list
        expect(chat("oai/echo", PROVIDER_KEY), 401)
        expect(chat("oai/echo", ADMIN_KEY + "x"), 401)
        expect(http.get("/api/svc/v1/keys", headers={"authorization": f"Bearer {secret}"}), 403)
        expect(http.post("/api/svc/v1/keys", json={"subject": ADMIN_KEY}, headers=admin), 400)
        expect(http.delete("/api/svc/v1/keys/key_0000000000000000", headers=admin), 404)
        rotated = http.post(f"/api/svc/v1/keys/{created['id']}/rotate", headers=admin).json()
        run.secrets.append(rotated["key"])
        expect(chat("oai/echo", secret), 401)  # the rotated-away secret
        listed = http.get("/api/svc/v1/keys", params={"include_revoked": "true"}, headers=admin)
        run.bodies.append(listed.text)  # not an error, but never holds a secret either
        http.delete(f"/api/svc/v1/keys/{created['id']}", headers=admin)
        expect(chat("oai/echo", rotated["key"]), 401)
    return run


def assert_nowhere(run: Run, logs: str, data_dir: Path) -> None:
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any(p.name.startswith("gateway.db") for p in files)
    stored = b"".join(p.read_bytes() for p in files)
    for secret in run.secrets:
        for body in run.bodies:
            assert secret not in body, body
        assert secret not in logs
        assert secret.encode() not in stored
        assert secret.removeprefix("gw-").encode() not in stored


@pytest.fixture
def config_file(fake_upstream: FakeUpstream, tmp_path: Path) -> Path:
    key_file = tmp_path / "provider.key"
    key_file.write_text(PROVIDER_KEY + "\n")
    path = tmp_path / "gateway.yaml"
    path.write_text(config(fake_upstream, key_file))
    return path


def test_no_secret_in_a_serve_process_output(config_file: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with serve(gateway_env(data_dir, config_file), tmp_path / "serve.stderr") as served:
        run = exercise(served.http_url)
    logs = served.stderr_path.read_text() + "".join(served.stdout_after_banner)
    assert_nowhere(run, logs, data_dir)


def test_no_secret_in_any_log_record_at_debug(
    config_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    data_dir = tmp_path / "data"
    with run_gateway(config_file.read_text(), admin_key=ADMIN_KEY, data_dir=data_dir) as gateway:
        run = exercise(gateway.http_url)
    assert caplog.records  # DEBUG is chatty: the scan below reads something
    logs = (
        "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
        + caplog.text
    )
    assert_nowhere(run, logs, data_dir)
