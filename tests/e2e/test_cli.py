"""`llm-gateway` as a user runs it: real processes, the sample config, signals."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import openai
import pytest

from tests import processes


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "GATEWAY_CONFIG": "examples/gateway.yaml",
        "GATEWAY_DATA_DIR": str(tmp_path / "data"),
        "GATEWAY_HTTP_PORT": "0",
        "GATEWAY_GRPC_PORT": "0",
        **extra,
    }


@contextmanager
def gateway_process(
    command: str, env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    log = Path(env["GATEWAY_DATA_DIR"]).parent / f"{command}.stderr"
    with processes.gateway_process(command, env, log) as running:
        yield running.process, running.banner


def test_serve_runs_sample_config_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    with gateway_process("serve", env_for(tmp_path)) as (process, banner):
        key = banner["API key"]
        assert key.startswith("gw-admin-")
        key_file = tmp_path / "data" / "admin.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        client = openai.OpenAI(base_url=banner["OpenAI base URL"], api_key=key, max_retries=0)
        reply = client.chat.completions.create(
            model="mock-main/echo", messages=[{"role": "user", "content": "from a real process"}]
        )
        assert reply.choices[0].message.content == "from a real process"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_admin_key_from_environment(tmp_path: Path) -> None:
    with gateway_process("serve", env_for(tmp_path, GATEWAY_ADMIN_KEY="fixed-key")) as (_, banner):
        assert banner["API key"] == "fixed-key"
        client = openai.OpenAI(
            base_url=banner["OpenAI base URL"], api_key="fixed-key", max_retries=0
        )
        assert [m.id for m in client.models.list()] == ["mock-main/echo", "mock-main/embed"]
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(
                base_url=banner["OpenAI base URL"], api_key="wrong", max_retries=0
            ).models.list()


def test_core_and_facade_as_separate_processes(tmp_path: Path) -> None:
    env = env_for(tmp_path, GATEWAY_ADMIN_KEY="split-key")
    with gateway_process("core", env) as (_, core_banner):
        target = core_banner["gRPC target"]
        with gateway_process("facade", {**env, "GATEWAY_CORE_TARGET": target}) as (_, banner):
            client = openai.OpenAI(
                base_url=banner["OpenAI base URL"], api_key="split-key", max_retries=0
            )
            reply = client.chat.completions.create(
                model="mock-main/echo", messages=[{"role": "user", "content": "two processes"}]
            )
            assert reply.choices[0].message.content == "two processes"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            "name: m\ntype: provider-account\nprovider: mock\nmodels: [{name: e, price: {input_per_million: x}}]\n",
            "document 1 (name=m): models[0].price.input_per_million: Input should be a valid number",
        ),
        (
            "name: o\ntype: provider-account\nprovider: openai\napi_key_env: GATEWAY_TEST_UNSET_KEY\nmodels: [{name: g}]\n",
            "environment variable GATEWAY_TEST_UNSET_KEY (api_key_env) is not set",
        ),
    ],
)
def test_invalid_config_exits_non_zero_naming_the_field(
    tmp_path: Path, config: str, expected: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(config)
    env = env_for(tmp_path, GATEWAY_CONFIG=str(path))
    env.pop("GATEWAY_TEST_UNSET_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "gateway_cli.main", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
