"""What the process-level reliability tests share: a gateway's environment, its log records
read back through the log API, and the figures each test prints (`pytest -s`)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from tests.logs.conftest import request_id_of
from tests.processes import GatewayProcess, gateway_env
from tests.transport import TRANSPORT

KEY = "processes-admin-key"
GRACE_SECONDS = 5.0
"""GATEWAY_SHUTDOWN_GRACE_SECONDS of every process these tests start."""
TEXT = "finish me please all of it now"
"""Seven words: the mock echoes it in seven streamed deltas."""
LOG_API = "/api/svc/v1/llm-gateway/requests"


def env_for(tmp_path: Path, config: str, **extra: str) -> dict[str, str]:
    """A gateway process's environment: `config` as its YAML, its data under `tmp_path`."""
    settings = {
        "GATEWAY_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        "GATEWAY_CONFIG_RELOAD_SECONDS": "0",
        # `serve` reaches its core the way this run of the suite does (see tests/transport.py).
        "GATEWAY_FACADE_TRANSPORT": TRANSPORT,
    }
    return gateway_env(tmp_path, config, KEY, **{**settings, **extra})


def stored_records(running: GatewayProcess) -> list[dict[str, Any]]:
    """Every log record, all pages of the log API, read with the admin key."""
    records: list[dict[str, Any]] = []
    with httpx.Client(timeout=10, headers={"authorization": f"Bearer {KEY}"}) as http:
        while True:
            body = {"limit": 1000, "offset": len(records)}
            page = http.post(running.http_url + LOG_API, json=body)
            page.raise_for_status()
            if not page.json()["data"]:
                return records
            records += page.json()["data"]


def stored_calls(running: GatewayProcess) -> Counter[str]:
    """Log records per request id."""
    return Counter(request_id_of(r["id"]) for r in stored_records(running))


def stored_total(running: GatewayProcess) -> int:
    """How many log records the log API counts."""
    reply = httpx.post(
        running.http_url + LOG_API, json={"limit": 1}, headers={"authorization": f"Bearer {KEY}"}
    )
    reply.raise_for_status()
    total: int = reply.json()["pagination"]["total"]
    return total


def report(name: str, **figures: Any) -> None:
    print(f"\n[{name}] " + ", ".join(f"{k}={v}" for k, v in figures.items()))
