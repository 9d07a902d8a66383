"""`llm-gateway` as real processes: `keys` commands, and `serve` with its stderr kept."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.processes import GatewayProcess, gateway_process

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


Served = GatewayProcess
"""A running `llm-gateway serve` process."""


@contextmanager
def serve(env: dict[str, str], stderr_path: Path) -> Iterator[Served]:
    """Starts `serve`, waits for its banner, and stops it with SIGTERM on exit (must exit 0)."""
    with gateway_process("serve", env, stderr_path) as served:
        yield served
    assert served.returncode == 0, stderr_path.read_text()
