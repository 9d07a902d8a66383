"""No answered call loses its record: kill -9 under load, and a MongoDB that goes away.

Real `llm-gateway serve` processes, real clients counting what they got answered (a unary
200 with its body, a stream up to its `[DONE]`), real stores: SQLite, and MongoDB's wire
protocol served by SecantusDB (or the mongod at GATEWAY_TEST_MONGODB_URI).
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import orjson
import pytest

from core.logs.lines import record_from_line
from core.store.base import LogQuery, LogRecord, Store
from core.store.mongo import MongoStore
from core.store.sqlite import SqliteStore
from tests.logs.conftest import request_id_of
from tests.mongo_server import READY_MARKER, _server_command, mongo_server
from tests.ports import free_port
from tests.processes import GatewayProcess, gateway_env, gateway_process

KEY = "durability-admin-key"
CONFIG = """
name: mock-main
type: provider-account
provider: mock
models: [{name: echo, price: {input_per_million: 1.0, output_per_million: 2.0}}]
"""
WORKERS = 24
KILL_AFTER = 300  # answered calls, then kill -9 with calls in flight


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return gateway_env(tmp_path, CONFIG, KEY, **extra)


async def _call(http: httpx.AsyncClient, url: str, request_id: str, key: str = KEY) -> None:
    """One chat call, raising unless it was answered in full."""
    body = {"model": "mock-main/echo", "messages": [{"role": "user", "content": "keep me"}]}
    headers = {"authorization": f"Bearer {key}", "x-request-id": request_id}
    if int(request_id.rsplit("-", 1)[1]) % 2:
        response = await http.post(url, json=body, headers=headers)
        response.raise_for_status()
        assert orjson.loads(response.content)["choices"]
        return
    async with http.stream("POST", url, json={**body, "stream": True}, headers=headers) as reply:
        reply.raise_for_status()
        async for line in reply.aiter_lines():
            if line == "data: [DONE]":
                return
    raise httpx.RemoteProtocolError("the stream ended before [DONE]")


async def _load_until_killed(running: GatewayProcess, prefix: str) -> tuple[set[str], int]:
    """Calls from WORKERS clients; kill -9 once KILL_AFTER are answered. Returns the answered
    ids and how many calls were in flight at the kill."""
    url = running.openai_base_url + "/chat/completions"
    answered: set[str] = set()
    numbers = itertools.count()
    in_flight = 0
    at_kill = -1

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal in_flight, at_kill
        while running.process.poll() is None:
            request_id = f"{prefix}-{next(numbers)}"
            in_flight += 1
            try:
                await _call(http, url, request_id)
            except (httpx.HTTPError, AssertionError):
                continue  # the gateway died mid-call: not answered, no promise made
            finally:
                in_flight -= 1
            answered.add(request_id)
            if len(answered) >= KILL_AFTER and at_kill < 0:
                at_kill = in_flight
                running.process.kill()

    limits = httpx.Limits(max_connections=WORKERS)
    async with httpx.AsyncClient(timeout=10, limits=limits) as http:
        await asyncio.gather(*(worker(http) for _ in range(WORKERS)))
    assert running.process.wait(timeout=10) == -signal.SIGKILL
    return answered, at_kill


def _stored(store: Store) -> list[LogRecord]:
    async def read() -> list[LogRecord]:
        await store.open()
        try:
            records: list[LogRecord] = []
            while True:
                page = await store.query_logs(LogQuery(limit=500, offset=len(records)))
                records += page.records
                if not page.records:
                    return records
        finally:
            await store.close()

    return asyncio.run(read())


def _assert_each_answered_call_recorded_once(
    records: list[LogRecord], answered: set[str], prefix: str
) -> None:
    calls = Counter(request_id_of(r.id) for r in records if r.id.startswith(prefix))
    assert answered - set(calls) == set(), "answered calls without a record"
    assert [rid for rid, n in calls.items() if n > 1] == [], "calls recorded twice"
    assert all(r.status == "success" for r in records if request_id_of(r.id) in answered)


def _kill_under_load_then_restart(tmp_path: Path, env: dict[str, str]) -> tuple[set[str], str]:
    prefix = f"load-{uuid.uuid4().hex[:8]}"
    with gateway_process("serve", env, tmp_path / "first.stderr") as running:
        answered, in_flight = asyncio.run(_load_until_killed(running, prefix))
    assert len(answered) >= KILL_AFTER
    assert in_flight > 0  # calls were in flight at the kill: records in every state
    # The next start replays the journal; SIGTERM then drains it into the store.
    with gateway_process("serve", env, tmp_path / "second.stderr") as running:
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(timeout=30) == 0
    return answered, prefix


@pytest.mark.timeout(120)
def test_kill_9_under_load_loses_no_answered_call_on_sqlite(tmp_path: Path) -> None:
    answered, prefix = _kill_under_load_then_restart(tmp_path, env_for(tmp_path))
    records = _stored(SqliteStore(tmp_path / "data" / "gateway.db"))
    _assert_each_answered_call_recorded_once(records, answered, prefix)


@pytest.mark.timeout(120)
def test_kill_9_under_load_loses_no_answered_call_on_mongodb(tmp_path: Path) -> None:
    with mongo_server(tmp_path / "mongo") as uri:
        env = env_for(tmp_path, GATEWAY_STORE_URI=uri)
        answered, prefix = _kill_under_load_then_restart(tmp_path, env)
        records = _stored(MongoStore(uri))
    _assert_each_answered_call_recorded_once(records, answered, prefix)


class Secantus:
    """SecantusDB on a fixed port, keeping its data across a stop and a start."""

    def __init__(self, port: int, storage: Path) -> None:
        self.command = [_server_command(), "--host", "127.0.0.1", "--port", str(port)]
        self.command += ["--storage-path", str(storage), "--log-level", "INFO"]
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:  # blocks until it listens (pytest's timeout guards)
            if READY_MARKER in line:
                break
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            assert self.process.stdout is not None
            self.process.stdout.close()
            self.process = None


def _journaled(data_dir: Path) -> list[str]:
    lines = b"".join(p.read_bytes() for p in (data_dir / "journal").glob("logs*.jsonl"))
    return [request_id_of(record_from_line(line).id) for line in lines.splitlines(True)]


async def _calls(running: GatewayProcess, names: list[str], key: str) -> None:
    url = running.openai_base_url + "/chat/completions"
    async with httpx.AsyncClient(timeout=10) as http:
        for name in names:
            await _call(http, url, name, key)


@pytest.mark.timeout(120)
def test_an_unreachable_mongodb_neither_holds_records_nor_the_exit(tmp_path: Path) -> None:
    uri = f"mongodb://127.0.0.1:{free_port()}/?directConnection=true"
    server = Secantus(int(uri.split(":")[2].split("/")[0]), tmp_path / "mongo")
    env = env_for(
        tmp_path,
        GATEWAY_STORE_URI=uri,
        GATEWAY_MONGODB_SERVER_SELECTION_TIMEOUT_SECONDS="1",
        GATEWAY_LOG_DRAIN_SECONDS="2",
        GATEWAY_KEY_CACHE_TTL_SECONDS="600",  # the user's key stays known while MongoDB is away
    )
    before = [f"before-{i}" for i in range(4)]
    during = [f"during-{i}" for i in range(6)]
    server.start()
    try:
        with gateway_process("serve", env, tmp_path / "first.stderr") as running:
            created = httpx.post(
                running.http_url + "/api/svc/v1/keys",
                json={"subject": "user:bob@example.com"},
                headers={"authorization": f"Bearer {KEY}"},
            )
            created.raise_for_status()
            user_key = created.json()["key"]  # its last use is written at exit
            asyncio.run(_calls(running, before, user_key))
            server.stop()
            started = time.monotonic()
            asyncio.run(_calls(running, during, user_key))
            assert time.monotonic() - started < 5  # no answer waited for the store
            assert set(during) <= set(_journaled(tmp_path / "data"))  # on disk at once
            started = time.monotonic()
            running.process.send_signal(signal.SIGTERM)
            assert running.process.wait(timeout=60) == 0
            # The key's last use (1 s of server selection), the drain (2 s), two bounded
            # client closes (1 s each), and the interpreter's exit.
            assert time.monotonic() - started < 1 + 2 + 2 + 3
        server.start()
        with gateway_process("serve", env, tmp_path / "second.stderr") as running:
            running.process.send_signal(signal.SIGTERM)  # after replaying the journal
            assert running.process.wait(timeout=30) == 0
        records = _stored(MongoStore(uri))
    finally:
        server.stop()
    seen = Counter(request_id_of(r.id) for r in records)
    assert {name: seen[name] for name in before + during} == dict.fromkeys(before + during, 1)
