"""`llm-gateway` as real processes: `keys` commands, and `serve` with its stderr kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ADMIN_KEY = "gw-admin-identity-tests-0123456789"


def gateway_env(
    data_dir: Path, config: Path | str = "examples/gateway.yaml", **extra: str
) -> dict[str, str]:
    """The environment of a gateway process on ephemeral ports, keys checked on every call."""
    return {
        **os.environ,
        "GATEWAY_CONFIG": str(config),
        "GATEWAY_DATA_DIR": str(data_dir),
        "GATEWAY_ADMIN_KEY": ADMIN_KEY,
        "GATEWAY_HTTP_PORT": "0",
        "GATEWAY_GRPC_PORT": "0",
        "GATEWAY_KEY_CACHE_TTL_SECONDS": "0",
        **extra,
    }


def keys_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Runs `llm-gateway keys ARGS...` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "gateway_cli.main", "keys", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@dataclass
class Served:
    """A running `llm-gateway serve` process."""

    process: subprocess.Popen[str]
    http_url: str
    stderr_path: Path
    stdout_after_banner: list[str] = field(default_factory=list)

    @property
    def openai_base_url(self) -> str:
        return f"{self.http_url}/api/inference/openai"


@contextmanager
def serve(env: dict[str, str], stderr_path: Path) -> Iterator[Served]:
    """Starts `serve`, waits for its banner, and stops it with SIGTERM on exit."""
    with (
        stderr_path.open("w") as stderr,
        subprocess.Popen(
            [sys.executable, "-m", "gateway_cli.main", "serve"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as process,
    ):
        assert process.stdout is not None
        url = ""
        for line in process.stdout:  # blocks until the banner (pytest's timeout guards)
            if "OpenAI base URL:" in line:
                url = line.split(": ", 1)[1].strip().removesuffix("/api/inference/openai")
            if line.strip().startswith("API key:"):
                break
        assert url, stderr_path.read_text()
        served = Served(process, url, stderr_path)
        try:
            yield served
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            served.stdout_after_banner.extend(process.stdout.readlines())
            assert process.wait(timeout=30) == 0, stderr_path.read_text()
