"""Real `llm-gateway` processes: kill -9 with a journal, SIGTERM mid-stream, /metrics."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest

from core.store.base import LogRecord
from core.store.sqlite import SqliteStore
from tests.logs.conftest import all_records
from tests.ports import free_port
from tests.processes import gateway_env, gateway_process

KEY = "process-admin-key"
CONFIG = """
name: mock-main
type: provider-account
provider: mock
models: [{name: echo, price: {input_per_million: 1.0, output_per_million: 2.0}}]
---
name: slow
type: provider-account
provider: mock
timeout_seconds: 30
mock: {chunk_delay_ms: 100, output_tokens: 15}
models: [{name: stream}]
"""


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return gateway_env(tmp_path, CONFIG, KEY, **extra)


@contextmanager
def gateway(
    tmp_path: Path, env: dict[str, str], command: str = "serve"
) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """Starts the CLI and yields it with its banner once ready; SIGTERM on the way out."""
    with gateway_process(command, env, tmp_path / f"{command}.stderr") as running:
        yield running.process, running.banner


def stored(data_dir: Path) -> dict[str, LogRecord]:
    async def read() -> dict[str, LogRecord]:
        store = SqliteStore(data_dir / "gateway.db")
        await store.open()
        try:
            return await all_records(store)
        finally:
            await store.close()

    return asyncio.run(read())


def chat(banner: dict[str, str], request_id: str) -> None:
    client = openai.OpenAI(base_url=banner["OpenAI base URL"], api_key=KEY, max_retries=0)
    client.chat.completions.create(
        model="mock-main/echo",
        messages=[{"role": "user", "content": "journal me"}],
        extra_headers={"x-request-id": request_id},
    )


def test_kill_9_with_records_in_the_journal_then_restart_replays_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    journal = data / "journal" / "logs.jsonl"
    # Queue size 0: the writer reads every record back from the journal (where each one is
    # before its response is sent, whatever the queue size).
    with gateway(tmp_path, env_for(tmp_path, GATEWAY_LOG_QUEUE_SIZE="0")) as (process, banner):
        blocker = sqlite3.connect(data / "gateway.db", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the store is unwritable for the gateway
        try:
            for i in range(10):
                chat(banner, f"killed-{i}")
            assert journal.read_bytes().count(b"\n") == 10
            process.kill()
            assert process.wait(timeout=10) == -signal.SIGKILL
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
    assert stored(data) == {}
    with gateway(tmp_path, env_for(tmp_path)) as (process, banner):
        chat(banner, "after-restart")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    records = stored(data)
    assert sorted(records) == ["after-restart", *(f"killed-{i}" for i in range(10))]
    assert records["killed-3"].status == "success"
    assert records["killed-3"].cost > 0
    assert journal.stat().st_size == 0


@pytest.mark.parametrize(
    ("grace", "status", "http_status"), [("10", "success", 200), ("0.3", "error", 499)]
)
def test_sigterm_mid_stream_writes_the_streams_record_and_exits_0(
    tmp_path: Path, grace: str, status: str, http_status: int
) -> None:
    env = env_for(tmp_path, GATEWAY_SHUTDOWN_GRACE_SECONDS=grace)
    with gateway(tmp_path, env) as (process, banner):
        body = {
            "model": "slow/stream",
            "messages": [{"role": "user", "content": "go"}],
            "stream": True,
        }
        headers = {"authorization": f"Bearer {KEY}", "x-request-id": "mid-stream"}
        url = banner["OpenAI base URL"] + "/chat/completions"
        with httpx.stream("POST", url, json=body, headers=headers, timeout=30) as response:
            lines = response.iter_lines()
            assert next(line for line in lines if line.startswith("data: "))
            process.send_signal(signal.SIGTERM)
            rest = list(_until_closed(lines))
        assert process.wait(timeout=30) == 0
    if status == "success":
        assert rest[-1] == "data: [DONE]"
    record = stored(tmp_path / "data")["mid-stream"]
    assert (record.status, record.http_status, record.stream) == (status, http_status, True)
    assert record.ttft_ms is not None


def test_metrics_are_served_by_serve_and_on_the_metrics_port_by_core(tmp_path: Path) -> None:
    with gateway(tmp_path, env_for(tmp_path)) as (_, banner):
        chat(banner, "counted")
        base = banner["OpenAI base URL"].removesuffix("/api/inference/openai")
        text = httpx.get(f"{base}/metrics", follow_redirects=True).text
        assert "llm_gateway_log_queue_depth" in text
        assert "llm_gateway_log_journal_records " in text
    port = free_port()
    env = env_for(tmp_path, GATEWAY_METRICS_PORT=str(port))
    with gateway(tmp_path, env, "core"):
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert "llm_gateway_log_records_written_total" in text


def _until_closed(lines: Iterator[str]) -> Iterator[str]:
    try:
        yield from (line for line in lines if line)
    except httpx.HTTPError:
        return
