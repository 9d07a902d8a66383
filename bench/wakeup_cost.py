"""What one connection costs any asyncio server on this machine: CPU per request of the
benchmark's trivial upstream (an aiohttp server, no work) at 1 and at 16 connections.

At one connection the server sleeps between requests and wakes for each (the scheduler, epoll,
cold caches); at 16 a wake-up serves several. The difference is the per-wake-up cost every
process pays at c=1, which the gateway pays at least twice per call (the request, then the
upstream's answer): part of why its CPU per request at c=1 exceeds its CPU at c=16.

    .venv/bin/python -m bench.wakeup_cost
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time

import aiohttp
import uvloop

from bench.procstat import cpu_seconds, pin
from bench.throughput import free_port

BODY = b'{"model":"bench","messages":[{"role":"user","content":"Say something short."}]}'
REQUESTS = 4000
ROUNDS = 5


async def load(url: str, connections: int, requests: int) -> None:
    async with aiohttp.ClientSession() as session:
        left = requests

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                async with session.post(url, data=BODY) as answer:
                    await answer.read()

        await asyncio.gather(*(worker() for _ in range(connections)))


async def measure(url: str, server_pid: int) -> None:
    for _ in range(100):  # until the upstream listens
        try:
            await load(url, 1, 1)
            break
        except aiohttp.ClientError:
            await asyncio.sleep(0.1)
    figures: dict[int, list[float]] = {1: [], 16: []}
    for _ in range(ROUNDS):
        for connections, values in figures.items():
            before = cpu_seconds([server_pid])
            await load(url, connections, REQUESTS)
            values.append((cpu_seconds([server_pid]) - before) / REQUESTS * 1e6)
    one, many = (statistics.median(figures[c]) for c in (1, 16))
    for connections, value in ((1, one), (16, many)):
        print(f"trivial upstream, {connections:>2} connections  {value:6.1f} µs CPU per request")
    print(f"one connection costs {one - many:.1f} µs more per request ({one / many:.1f}x)")


def main() -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "bench.upstream", str(port)])
    try:
        pin(server.pid, 0)
        pin(0, 1)
        start = time.perf_counter()
        uvloop.run(measure(f"http://127.0.0.1:{port}/v1/chat/completions", server.pid))
        took = time.perf_counter() - start
        print(f"(median of {ROUNDS} rounds of {REQUESTS} requests, {took:.0f} s)")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
