"""CPU per call of the upstream client: plain aiohttp (the gateway's) against httpx over
httpx-aiohttp (what it used before), on the gateway's own workload.

Each call goes through the OpenAI provider, as in the gateway: the request built from a
`ChatCall`, sent to a local OpenAI-compatible upstream (`bench/upstream.py`, its own process,
pinned to another core), the answer read and decoded; streaming calls read 7 chunks and
`[DONE]`. Rounds interleave the clients (alternating which goes first), since the machine
is shared and noisy; the figures are medians over rounds of this process's CPU time.

    .venv/bin/python -m bench.upstream_client            # --rounds 7 --calls 2000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import uvloop

from bench.httpx_upstream import HttpxUpstream
from bench.throughput import BODY, free_port, wait_ready
from codec import chat_params_from_json
from core.config.models import ProviderAccount
from core.providers.base import ChatCall
from core.providers.openai import OpenAIProvider
from core.providers.transport import HttpUpstream, Upstream

CLIENTS: dict[str, Callable[[ProviderAccount, str], Upstream]] = {
    "httpx + httpx-aiohttp": lambda account, url: HttpxUpstream(account, base_url=url),
    "aiohttp": lambda account, url: HttpUpstream(account, base_url=url),
}
MODES = ("unary", "stream")


def _call(stream: bool) -> ChatCall:
    params = chat_params_from_json(
        {"model": "local/bench", "messages": [{"role": "user", "content": "Say something short."}]}
    )
    return ChatCall(params=params, account="local", model="bench", stream=stream)


async def _round(provider: OpenAIProvider, stream: bool, calls: int, concurrency: int) -> float:
    """CPU seconds of this process per call, over `calls` calls from `concurrency` callers."""
    call = _call(stream)
    remaining = calls

    async def caller() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            async for _ in provider.chat(call):
                pass

    started = time.process_time()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return (time.process_time() - started) / calls


async def _measure(args: argparse.Namespace, url: str) -> dict[tuple[str, str], list[float]]:
    account = ProviderAccount.model_validate(
        {"type": "provider-account", "name": "local", "provider": "openai",
         "base_url": url, "models": [{"name": "bench"}]}
    )  # fmt: skip
    providers = {
        name: OpenAIProvider(account, None, upstream=build(account, url))
        for name, build in CLIENTS.items()
    }
    samples: dict[tuple[str, str], list[float]] = {
        (name, mode): [] for name in CLIENTS for mode in MODES
    }
    try:
        for provider in providers.values():  # warm pools, caches and code paths
            for mode in MODES:
                await _round(provider, mode == "stream", args.calls // 4, args.concurrency)
        for number in range(args.rounds):
            order = list(providers.items())
            if number % 2:
                order.reverse()
            for mode in MODES:
                for name, provider in order:
                    seconds = await _round(provider, mode == "stream", args.calls, args.concurrency)
                    samples[(name, mode)].append(seconds)
    finally:
        for provider in providers.values():
            await provider.aclose()
    return samples


def _report(samples: dict[tuple[str, str], list[float]], args: argparse.Namespace) -> None:
    print(
        f"CPU per call of this process, {args.rounds} interleaved rounds of {args.calls} calls, "
        f"{args.concurrency} concurrent (median, min-max over rounds)"
    )
    for mode in MODES:
        medians = {}
        for name in CLIENTS:
            us = [s * 1e6 for s in samples[(name, mode)]]
            medians[name] = statistics.median(us)
            print(f"  {mode:<6} {name:<22} {medians[name]:7.1f} us   ({min(us):.1f}-{max(us):.1f})")
        old, new = medians["httpx + httpx-aiohttp"], medians["aiohttp"]
        print(f"  {mode:<6} httpx / aiohttp        {old / new:7.2f}x   (saves {old - new:.1f} us)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000, help="calls per client per round")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    port = free_port()
    upstream = subprocess.Popen([sys.executable, "-m", "bench.upstream", str(port)])
    try:
        if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
            os.sched_setaffinity(upstream.pid, {1})
            os.sched_setaffinity(0, {0})
        url = f"http://127.0.0.1:{port}/v1"
        uvloop.run(wait_ready(f"{url}/chat/completions", {}, BODY % b"bench"))
        samples = uvloop.run(_measure(args, url))
    finally:
        upstream.terminate()
        upstream.wait(10)
    _report(samples, args)


if __name__ == "__main__":
    main()
