"""Requests/s and CPU per request of non-streaming chat calls through the gateway.

Starts a local OpenAI-compatible upstream and `llm-gateway serve` (pinned to one core), then
drives each with the same load: first the upstream directly (the baseline), then through the
gateway. CPU per request is read from /proc for the gateway process alone.

    make bench            # or: .venv/bin/python -m bench.throughput --requests 4000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

BODY = b'{"model":"%s","messages":[{"role":"user","content":"Say something short."}]}'
KEY = "bench-admin-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_ready(url: str, headers: dict[str, str], body: bytes) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} never became ready")


async def drive(
    url: str, body: bytes, headers: dict[str, str], requests: int, concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    remaining = requests
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{url}: HTTP {response.status}")
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


def report(
    name: str, wall: float, latencies: list[float], cpu: float | None, requests: int
) -> None:
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    cpu_text = f"{cpu / requests * 1000:6.3f} ms CPU/req" if cpu is not None else " " * 18
    print(
        f"{name:<28} {requests / wall:8.0f} req/s  {cpu_text}  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
    )


async def run(args: argparse.Namespace) -> None:
    python = sys.executable
    up_port, http_port, grpc_port = free_port(), free_port(), free_port()
    upstream = subprocess.Popen([python, "-m", "bench.upstream", str(up_port)])  # noqa: ASYNC220
    config = f"""
name: local
type: provider-account
provider: openai
base_url: http://127.0.0.1:{up_port}/v1
models: [{{name: bench}}]
---
name: mock-main
type: provider-account
provider: mock
models: [{{name: echo}}]
"""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "gateway.yaml").write_text(config)
        env = {
            **os.environ,
            "GATEWAY_CONFIG": f"{tmp}/gateway.yaml",
            "GATEWAY_DATA_DIR": tmp,
            "GATEWAY_ADMIN_KEY": KEY,
            "GATEWAY_HTTP_PORT": str(http_port),
            "GATEWAY_GRPC_PORT": str(grpc_port),
        }
        gateway = subprocess.Popen(  # noqa: ASYNC220
            [python, "-m", "gateway_cli.main", "serve"], env=env, stdout=subprocess.DEVNULL
        )
        try:
            if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:  # type: ignore[operator]
                os.sched_setaffinity(gateway.pid, {0})
                os.sched_setaffinity(upstream.pid, {1})
                os.sched_setaffinity(0, {1})
            headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
            direct = f"http://127.0.0.1:{up_port}/v1/chat/completions"
            through = f"http://127.0.0.1:{http_port}/v1/chat/completions"
            await wait_ready(direct, headers, BODY % b"bench")
            await wait_ready(through, headers, BODY % b"local/bench")
            print(
                f"{args.requests} non-streaming requests, concurrency {args.concurrency}, "
                f"gateway pinned to one core; {args.rounds} rounds, medians below"
            )
            rows: dict[str, list[tuple[float, list[float], float | None]]] = {}
            for _ in range(args.rounds):
                for name, url, body, pid in (
                    ("direct to upstream", direct, BODY % b"bench", None),
                    ("gateway -> upstream", through, BODY % b"local/bench", gateway.pid),
                    ("gateway -> mock provider", through, BODY % b"mock-main/echo", gateway.pid),
                ):
                    await drive(url, body, headers, min(200, args.requests), args.concurrency)
                    before = cpu_seconds(pid) if pid else 0.0
                    wall, latencies = await drive(
                        url, body, headers, args.requests, args.concurrency
                    )
                    cpu = cpu_seconds(pid) - before if pid else None
                    rows.setdefault(name, []).append((wall, latencies, cpu))
            for name, results in rows.items():
                results.sort(key=lambda r: r[0])
                wall, latencies, cpu = results[len(results) // 2]
                report(name, wall, latencies, cpu, args.requests)
        finally:
            gateway.terminate()
            upstream.terminate()
            gateway.wait(10)
            upstream.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
