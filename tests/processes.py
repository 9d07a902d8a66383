"""`llm-gateway` as a real process: started, its banner read, stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


def gateway_env(tmp_path: Path, config: str, admin_key: str, **extra: str) -> dict[str, str]:
    """A gateway process's environment: `config` as its YAML, its data under `tmp_path`,
    ephemeral ports, `admin_key`; `extra` GATEWAY_* settings win."""
    path = tmp_path / "gateway.yaml"
    path.write_text(config)
    return {
        **os.environ,
        "GATEWAY_CONFIG": str(path),
        "GATEWAY_DATA_DIR": str(tmp_path / "data"),
        "GATEWAY_ADMIN_KEY": admin_key,
        "GATEWAY_HTTP_PORT": "0",
        "GATEWAY_GRPC_PORT": "0",
        **extra,
    }


@dataclass
class GatewayProcess:
    """A running `llm-gateway` command and what its banner said."""

    process: subprocess.Popen[str]
    banner: dict[str, str]
    stderr_path: Path
    stdout_after_banner: list[str] = field(default_factory=list)
    returncode: int | None = None

    @property
    def openai_base_url(self) -> str:
        return self.banner["OpenAI base URL"]

    @property
    def http_url(self) -> str:
        return self.openai_base_url.removesuffix("/api/inference/openai")


@contextmanager
def gateway_process(
    command: str, env: dict[str, str], stderr_path: Path
) -> Iterator[GatewayProcess]:
    """Starts `llm-gateway COMMAND`, waits for its banner; on exit SIGTERM, then reap it."""
    with (
        stderr_path.open("a") as stderr,
        subprocess.Popen(
            [sys.executable, "-m", "gateway_cli.main", command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as process,
    ):
        assert process.stdout is not None
        banner: dict[str, str] = {}
        for line in process.stdout:  # blocks until the banner arrives (pytest's timeout guards)
            if line.startswith("  ") and ": " in line:
                key, _, value = line.strip().partition(": ")
                banner[key] = value.strip()
            if line.strip().startswith("API key:"):
                break
        assert "API key" in banner, stderr_path.read_text()
        running = GatewayProcess(process, banner, stderr_path)
        try:
            yield running
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            running.stdout_after_banner.extend(process.stdout.readlines())
            running.returncode = process.wait(timeout=30)
