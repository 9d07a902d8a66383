"""The gateway's processes stopping and starting under load: SIGTERM to `serve` while
clients call it or stall, and a `core` killed and restarted behind a running `facade`.

Real `llm-gateway` processes; every caller's result is counted (see calls.py), printed
(`pytest -s`) and asserted. Slow clients: test_slow_clients.py; the soak: test_soak.py.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from tests.logs.conftest import request_id_of
from tests.ports import free_port
from tests.processes import GatewayProcess, gateway_process
from tests.reliability.calls import (
    CLEAN,
    Outcome,
    Result,
    Tally,
    call,
    chat_body,
    is_openai_error,
    kinds,
)
from tests.reliability.process_env import (
    GRACE_SECONDS,
    KEY,
    TEXT,
    env_for,
    report,
    stored_calls,
    stored_records,
)
from tests.reliability.procfs import accepted, settles
from tests.reliability.slow_clients import SlowReader, SlowSender, connect

# -- SIGTERM under load -----------------------------------------------------------------------

SIGTERM_CONFIG = """
name: mock-main
type: provider-account
provider: mock
models: [{name: echo, price: {input_per_million: 1.0, output_per_million: 2.0}}]
mock: {latency_ms: 300, chunk_delay_ms: 50}
"""
CLIENTS = 20
SIGTERM_AFTER = 60
"""Answered calls before the SIGTERM, which then finds every client mid-call."""


async def _load_then_sigterm(running: GatewayProcess) -> tuple[Tally, set[str], float, int]:
    """CLIENTS callers (every other call streamed) until the gateway stops listening; SIGTERM
    once SIGTERM_AFTER calls are answered. Returns the tally, the ids in flight at the
    signal, the seconds from the signal to the exit, and the exit status."""
    url = running.openai_base_url + "/chat/completions"
    tally = Tally()
    numbers = itertools.count()
    in_flight: set[str] = set()
    enough = asyncio.Event()

    async def client() -> None:
        # One keep-alive connection per client, as an SDK holds it.
        async with httpx.AsyncClient(timeout=10) as http:
            while True:
                number = next(numbers)
                request_id = f"term-{number}"
                body = chat_body("mock-main/echo", TEXT, stream=number % 2 == 0)
                in_flight.add(request_id)
                result = await call(http, url, body, key=KEY, request_id=request_id)
                in_flight.discard(request_id)
                tally.add(result)
                if tally.count(Outcome.ANSWERED) >= SIGTERM_AFTER:
                    enough.set()
                if result.outcome is Outcome.REFUSED:
                    return  # the gateway no longer listens: this client is done

    clients = [asyncio.create_task(client()) for _ in range(CLIENTS)]
    await enough.wait()
    at_signal = set(in_flight)
    signalled = time.monotonic()
    running.process.send_signal(signal.SIGTERM)
    status = await asyncio.to_thread(running.process.wait, 30)
    exit_seconds = time.monotonic() - signalled
    await asyncio.gather(*clients)
    return tally, at_signal, exit_seconds, status


@pytest.mark.timeout(90)
def test_sigterm_under_load_finishes_in_flight_calls_and_logs_each_once(tmp_path: Path) -> None:
    env = env_for(tmp_path, SIGTERM_CONFIG)
    with gateway_process("serve", env, tmp_path / "first.stderr") as running:
        tally, at_signal, exit_seconds, status = asyncio.run(_load_then_sigterm(running))
    with gateway_process("serve", env, tmp_path / "second.stderr") as running:
        stored = stored_calls(running)
    answered = tally.ids(Outcome.ANSWERED)
    # A request sent just as the gateway closed its idle keep-alive connection got no answer;
    # the gateway never took it (no record says otherwise), as any HTTP/1.1 server may do.
    unanswered = tally.ids(Outcome.UNANSWERED)
    report(
        "sigterm",
        sent=len(tally.results),
        in_flight_at_sigterm=len(at_signal),
        in_flight_answered=len(at_signal & answered),
        outcomes=dict(tally.kinds()),
        records=stored.total(),
        exit_seconds=round(exit_seconds, 2),
    )
    assert status == 0
    assert exit_seconds < GRACE_SECONDS
    assert len(at_signal) == CLIENTS  # every client was mid-call at the signal
    # Each call the gateway took ended cleanly; those in flight at the signal were answered.
    taken = {r.outcome for r in tally.results} - {Outcome.REFUSED, Outcome.UNANSWERED}
    assert taken <= CLEAN, tally.kinds()
    assert at_signal - unanswered <= answered
    # Exactly one record per answered call; none for a call the gateway never took.
    assert {rid: stored[rid] for rid in answered} == dict.fromkeys(answered, 1)
    assert [rid for rid, n in stored.items() if n > 1] == []
    assert [rid for rid in unanswered | tally.ids(Outcome.REFUSED) if stored[rid]] == []
    assert "Traceback" not in (tmp_path / "first.stderr").read_text()


# -- SIGTERM with clients that never finish ------------------------------------------------

STALL_CONFIG = """
name: mock-long
type: provider-account
provider: mock
models: [{name: echo}]
mock: {output_tokens: 3000}
"""
STALL_GRACE_SECONDS = 1.0
EXIT_AFTER_GRACE_SECONDS = 2.0
"""Longest the exit may take past the grace: core's stop, the log drain, the interpreter."""


async def _stall_then_sigterm(running: GatewayProcess) -> tuple[float, int, bytes, int, bool]:
    """A reader that never reads its long stream, a sender that never ends its body and an
    idle connection, then SIGTERM. Returns the seconds to the exit, its status, what the
    reader got, the status the sender got, and whether the idle connection was closed."""
    url = running.openai_base_url + "/chat/completions"
    path = "/api/inference/openai/v1/chat/completions"
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    long_stream = orjson.dumps(chat_body("mock-long/echo", "go", stream=True))
    reader = await SlowReader.start(url, path, {**headers, "x-request-id": "stalled"}, long_stream)
    short = orjson.dumps(chat_body("mock-long/echo", TEXT))
    sender = await SlowSender.start(url, path, headers, short, in_headers=False)
    idle = await connect(url)
    port = urlsplit(url).port or 0
    settles(lambda: accepted(running.process.pid, port), lambda n: n >= 3, 10)
    signalled = time.monotonic()
    running.process.send_signal(signal.SIGTERM)
    status = await asyncio.to_thread(running.process.wait, 30)
    exit_seconds = time.monotonic() - signalled
    received = await reader.finish()
    answered, _ = await sender.connection.read_response()
    closed = await idle.reader.read() == b""
    await sender.connection.close()
    await idle.close()
    return exit_seconds, status, received, answered, closed


@pytest.mark.timeout(60)
def test_sigterm_with_stalled_clients_exits_within_the_grace(tmp_path: Path) -> None:
    env = env_for(tmp_path, STALL_CONFIG, GATEWAY_SHUTDOWN_GRACE_SECONDS=str(STALL_GRACE_SECONDS))
    with gateway_process("serve", env, tmp_path / "first.stderr") as running:
        exit_seconds, status, received, sender_status, idle_closed = asyncio.run(
            _stall_then_sigterm(running)
        )
    with gateway_process("serve", env, tmp_path / "second.stderr") as running:
        stored = stored_records(running)
    report(
        "sigterm-stalled",
        exit_seconds=round(exit_seconds, 2),
        reader_got_bytes=len(received),
        reader_got_done=b"[DONE]" in received,
        sender_status=sender_status,
        idle_closed=idle_closed,
        records={r["id"]: r["http_status"] for r in stored},
    )
    assert status == 0
    assert exit_seconds < STALL_GRACE_SECONDS + EXIT_AFTER_GRACE_SECONDS
    assert b"[DONE]" not in received  # cut at the end of the grace, as it should be
    assert sender_status >= 500  # answered, not left hanging
    assert idle_closed
    # The stalled stream is logged once: cancelled at the end of the grace (499), or, when
    # core had already handed the whole answer to the facade's gRPC buffers (the `grpc`
    # transport), as core's success (200); either way the provider's tokens are counted.
    assert [request_id_of(r["id"]) for r in stored] == ["stalled"]
    assert stored[0]["http_status"] in (200, 499)


# -- A core restart behind a running facade -------------------------------------------------

SPLIT_CONFIG = """
name: mock-main
type: provider-account
provider: mock
models: [{name: echo}]
---
name: mock-slow
type: provider-account
provider: mock
models: [{name: echo}]
mock: {chunk_delay_ms: 2000}
"""
DOWN_SECONDS = 5.0
"""How long core stays down, called all along: long enough for gRPC's reconnect backoff to
grow (from 1 s, by 1.6 each attempt, up to 120 s unless the channel caps it)."""
DOWN_CALL_SECONDS = 2.0
"""Longest a call may take to fail while core is down (no hang, no retry loop)."""
RECOVERY_SECONDS = 2.0
"""Longest the facade may keep failing once core listens again."""


async def _calls(url: str, prefix: str, *, count: int = 0, seconds: float = 0) -> list[Result]:
    """`count` calls one after another, or as many as `seconds` allow; every other streamed."""
    results: list[Result] = []
    until = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=10) as http:
        for number in itertools.count():
            if number >= count and time.monotonic() >= until:
                break
            body = chat_body("mock-main/echo", TEXT, stream=number % 2 == 1)
            results.append(await call(http, url, body, key=KEY, request_id=f"{prefix}-{number}"))
    return results


async def _in_flight_through_a_kill(url: str, core: GatewayProcess) -> list[Result]:
    """A unary call waiting for its answer and a stream mid-body when core is killed."""
    async with httpx.AsyncClient(timeout=10) as http:
        body = chat_body("mock-main/echo", TEXT, mock={"latency_ms": 30_000})
        waiting = asyncio.create_task(call(http, url, body, key=KEY, request_id="killed-unary"))
        # The stream's 200 and first delta are out; its next delta is 2 s away.
        headers = {"authorization": f"Bearer {KEY}", "x-request-id": "killed-stream"}
        body = chat_body("mock-slow/echo", TEXT, stream=True)
        started = time.monotonic()
        async with http.stream("POST", url, json=body, headers=headers) as reply:
            assert reply.status_code == 200
            lines = reply.aiter_lines()
            assert (await anext(lines)).startswith("data: {")
            core.process.kill()
            rest = [line async for line in lines if line]
        stream = Result("killed-stream", _stream_end(rest), 200, started, time.monotonic())
        return [await waiting, stream]


def _stream_end(lines: list[str]) -> Outcome:
    if lines and lines[-1] == "data: [DONE]":
        return Outcome.ANSWERED
    if lines and lines[-1].startswith("data: {") and is_openai_error(orjson.loads(lines[-1][6:])):
        return Outcome.STREAM_ERROR
    return Outcome.CUT


async def _until_answered(url: str, within: float) -> tuple[list[Result], float]:
    """Calls until one is answered, or `within` seconds pass: the failures, and the seconds taken."""
    started = time.monotonic()
    failures: list[Result] = []
    async with httpx.AsyncClient(timeout=10) as http:
        for number in itertools.count():
            body = chat_body("mock-main/echo", TEXT, stream=number % 2 == 1)
            result = await call(http, url, body, key=KEY, request_id=f"recover-{number}")
            if result.outcome is Outcome.ANSWERED or time.monotonic() > started + within:
                break
            failures.append(result)
    return failures, time.monotonic() - started


@pytest.mark.timeout(90)
def test_facade_answers_503_while_core_is_down_and_recovers_without_a_restart(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = env_for(tmp_path, SPLIT_CONFIG, GATEWAY_GRPC_PORT=str(port))
    facade_env = {**env, "GATEWAY_CORE_TARGET": f"127.0.0.1:{port}"}
    with ExitStack() as stack:
        core = stack.enter_context(gateway_process("core", env, tmp_path / "core-1.stderr"))
        facade = stack.enter_context(
            gateway_process("facade", facade_env, tmp_path / "facade.stderr")
        )
        url = facade.openai_base_url + "/chat/completions"
        before = asyncio.run(_calls(url, "before", count=4))
        killed = asyncio.run(_in_flight_through_a_kill(url, core))
        assert core.process.wait(timeout=10) == -signal.SIGKILL
        down = asyncio.run(_calls(url, "down", seconds=DOWN_SECONDS))
        models = httpx.get(
            facade.openai_base_url + "/models", headers={"authorization": f"Bearer {KEY}"}
        )
        stack.enter_context(gateway_process("core", env, tmp_path / "core-2.stderr"))
        failures, recovery = asyncio.run(_until_answered(url, within=20))
        after = asyncio.run(_calls(url, "after", count=10))
    report(
        "core-restart",
        before=dict(kinds(before)),
        in_flight_at_kill={r.request_id: r.kind for r in killed},
        in_flight_seconds=[round(r.seconds, 2) for r in killed],
        down=dict(kinds(down)),
        down_max_seconds=round(max(r.seconds for r in down), 3),
        models_status=models.status_code,
        failed_while_reconnecting=dict(kinds(failures)),
        recovery_seconds=round(recovery, 2),
        after=dict(kinds(after)),
    )
    assert kinds(before) == {"answered": 4}
    assert {r.request_id: r.kind for r in killed} == {
        "killed-unary": "error:503",
        "killed-stream": "stream_error:200",
    }
    assert max(r.seconds for r in killed) < DOWN_CALL_SECONDS
    assert set(kinds(down)) == {"error:503"}
    assert max(r.seconds for r in down) < DOWN_CALL_SECONDS
    assert models.status_code == 503
    assert is_openai_error(models.json())
    assert set(kinds(failures)) <= {"error:503"}
    assert recovery < RECOVERY_SECONDS
    assert kinds(after) == {"answered": 10}
