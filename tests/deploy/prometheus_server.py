"""A real Prometheus server (Debian's `prometheus`, installed by scripts/install-test-tools.sh)
scraping given targets, for the tests; queried through its HTTP API."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.ports import free_port

READY_MARKER = "Server is ready to receive web requests"


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: run scripts/install-test-tools.sh (make test does)")
    return found


@dataclass(frozen=True)
class Prometheus:
    url: str

    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        """The instant vector (or scalar as one sample) of `expr` evaluated at `at` (seconds)."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr, "time": at})
        body = response.json()
        assert body["status"] == "success", (expr, body)
        data = body["data"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result


@contextmanager
def prometheus(
    targets: list[str], workdir: Path, interval: str = "100ms", *, token: str | None = None
) -> Iterator[Prometheus]:
    """Runs Prometheus scraping `targets` (host:port) every `interval`, until exit; with
    `token`, each scrape sends it as deploy/prometheus.yml documents (`credentials_file`)."""
    config = workdir / "prometheus.yml"
    listed = ", ".join(f'"{t}"' for t in targets)
    authorization = ""
    if token is not None:
        token_file = workdir / "metrics-token"
        token_file.write_text(token + "\n")
        authorization = f"    authorization:\n      credentials_file: {token_file}\n"
    config.write_text(
        f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
        f"scrape_configs:\n  - job_name: llm-gateway\n{authorization}"
        f"    static_configs:\n      - targets: [{listed}]\n"
    )
    port = free_port()
    command = [
        tool("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        seen: list[str] = []
        for line in process.stdout:  # blocks until it says it is ready (pytest's timeout guards)
            seen.append(line)
            if READY_MARKER in line:
                break
        else:
            raise RuntimeError("prometheus exited before it was ready:\n" + "".join(seen))
        threading.Thread(target=process.stdout.read, daemon=True).start()
        try:
            yield Prometheus(f"http://127.0.0.1:{port}")
        finally:
            process.terminate()
            process.wait(timeout=30)
