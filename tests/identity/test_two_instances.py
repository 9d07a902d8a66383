"""Revocation across two `llm-gateway serve` processes sharing one SQLite data dir.

With GATEWAY_KEY_CACHE_TTL_SECONDS=0 the other instance sees a change on its next call; the
bound for a non-zero TTL is proven with an injected clock in test_authenticator.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest

from tests.identity.processes import ADMIN_KEY, gateway_env, serve

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


def works(base_url: str, key: str) -> bool:
    with openai.OpenAI(base_url=base_url, api_key=key, max_retries=0) as client:
        try:
            client.models.list()
        except openai.AuthenticationError:
            return False
    return True


def test_revoke_and_rotate_on_one_instance_take_effect_on_the_other(tmp_path: Path) -> None:
    env = gateway_env(tmp_path / "shared")
    with (
        serve(env, tmp_path / "a.stderr") as a,
        serve(env, tmp_path / "b.stderr") as b,
        httpx.Client(timeout=10, headers=ADMIN) as http,
    ):
        assert a.http_url != b.http_url
        created = http.post(
            f"{a.http_url}/api/svc/v1/keys", json={"subject": "virtualaccount:shared"}
        ).json()
        assert works(a.openai_base_url, created["key"])
        assert works(b.openai_base_url, created["key"])
        # Listed from B: the key lives in the shared store, not in A's memory.
        listed = http.get(f"{b.http_url}/api/svc/v1/keys").json()["data"]
        assert [k["id"] for k in listed] == [created["id"]]

        rotated = http.post(f"{b.http_url}/api/svc/v1/keys/{created['id']}/rotate").json()
        assert not works(a.openai_base_url, created["key"])
        assert works(a.openai_base_url, rotated["key"])

        revoked = http.delete(f"{a.http_url}/api/svc/v1/keys/{created['id']}")
        assert revoked.status_code == 200
        assert not works(b.openai_base_url, rotated["key"])
        assert not works(a.openai_base_url, rotated["key"])


@pytest.mark.parametrize("ttl", ["-1", "soon"])
def test_a_bad_cache_ttl_is_refused_at_start(tmp_path: Path, ttl: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway_cli.main", "serve"],
        env=gateway_env(tmp_path / "data", GATEWAY_KEY_CACHE_TTL_SECONDS=ttl),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "key_cache_ttl_seconds" in result.stderr
