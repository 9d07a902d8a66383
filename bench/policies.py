"""What routing policies cost on the hot path: requests/s and CPU per request with 50 rules
configured (rate limits, budgets, load balancing, fallbacks) against a gateway with none.

Two `llm-gateway serve` processes (SQLite, in-memory limit counters) share one core and one
local OpenAI-compatible upstream; rounds alternate between them so machine noise hits both.
Rows: no rules; 50 rules none of which match the request; 50 rules where 22 match (15 rate
limits and 5 budgets charged and settled on every call, a load-balancing rule that picks the
target of a virtual model, and a fallback rule matching but never needed).

Then the router alone, in this process, on the mock provider (no HTTP, no gRPC): microseconds
per call for the same three cases. Whole-gateway rates on a shared 2-core machine swing by
10-15% between two identical gateways; this in-process figure is steady to about 1 us, and
is the one to compare with the ~1.5-2.5 ms of CPU a whole request costs.

    make bench-policies   # or: .venv/bin/python -m bench.policies --requests 4000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.throughput import BODY, KEY, cpu_seconds, drive, free_port, report, wait_ready

RATE_LIMITS = 40
BUDGETS = 5
BALANCING = 3
FALLBACKS = 2


def accounts(port: int) -> str:
    return f"""
name: local
type: provider-account
provider: openai
base_url: http://127.0.0.1:{port}/v1
models:
  - {{name: bench, price: {{input_per_million: 1, output_per_million: 2}}}}
  - {{name: spare}}
"""


def fifty_rules() -> str:
    """50 rules; the ones on `smart` match the benchmark's ruled requests."""
    limits = []
    for i in range(RATE_LIMITS):
        model = "smart" if i < 15 else "local/spare"
        unit = ("requests_per_minute", "tokens_per_hour", "requests_per_day")[i % 3]
        per = ("[user]", "[model]", "['metadata.team']")[i % 3]
        limits.append(
            f"  - {{id: limit-{i}, when: {{models: [{model}]}}, limit_to: 1000000000, "
            f"unit: {unit}, rate_limit_applies_per: {per}}}"
        )
    budgets = [
        f"  - {{id: budget-{i}, when: {{models: [smart]}}, limit_to: 1000000, "
        f"unit: cost_per_month}}"
        for i in range(BUDGETS)
    ]
    balancing = [
        f"""  - id: lb-{i}
    type: weight-based-routing
    when: {{models: [{"smart" if i == 0 else f"virtual-{i}"}]}}
    load_balance_targets: [{{target: local/bench, weight: 100}}]"""
        for i in range(BALANCING)
    ]
    fallbacks = [
        f"  - {{id: fb-{i}, when: {{models: [{'smart' if i == 0 else 'local/spare'}]}}, "
        f"fallback_models: [{{target: local/spare}}]}}"
        for i in range(FALLBACKS)
    ]
    sections = (
        ("gateway-rate-limiting-config", limits),
        ("gateway-budget-config", budgets),
        ("gateway-load-balancing-config", balancing),
        ("gateway-fallback-config", fallbacks),
    )
    return "".join(
        f"---\nname: {kind}\ntype: {kind}\nrules:\n" + "\n".join(rules) + "\n"
        for kind, rules in sections
    )


def start_gateway(directory: Path, config: str) -> tuple[subprocess.Popen[bytes], int]:
    directory.mkdir()
    (directory / "gateway.yaml").write_text(config)
    port = free_port()
    env = {
        **os.environ,
        "GATEWAY_CONFIG": str(directory / "gateway.yaml"),
        "GATEWAY_DATA_DIR": str(directory),
        "GATEWAY_ADMIN_KEY": KEY,
        "GATEWAY_HTTP_PORT": str(port),
        "GATEWAY_GRPC_PORT": str(free_port()),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway_cli.main", "serve"], env=env, stdout=subprocess.DEVNULL
    )
    return process, port


async def run(args: argparse.Namespace) -> None:
    up_port = free_port()
    upstream = subprocess.Popen([sys.executable, "-m", "bench.upstream", str(up_port)])  # noqa: ASYNC220
    with tempfile.TemporaryDirectory() as tmp:
        plain, plain_port = start_gateway(Path(tmp) / "plain", accounts(up_port))
        ruled, ruled_port = start_gateway(Path(tmp) / "ruled", accounts(up_port) + fifty_rules())
        try:
            if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
                for process in (plain, ruled):
                    os.sched_setaffinity(process.pid, {0})
                os.sched_setaffinity(upstream.pid, {1})
                os.sched_setaffinity(0, {1})
            headers = {
                "Authorization": f"Bearer {KEY}",
                "Content-Type": "application/json",
                "X-TFY-METADATA": '{"team": "bench"}',
            }
            cases = (
                ("no rules", plain_port, b"local/bench", plain.pid),
                ("50 rules, none match", ruled_port, b"local/bench", ruled.pid),
                ("50 rules, 22 match", ruled_port, b"smart", ruled.pid),
            )
            for _, port, model, _ in cases:
                await wait_ready(
                    f"http://127.0.0.1:{port}/v1/chat/completions", headers, BODY % model
                )
            print(
                f"{args.requests} non-streaming requests, concurrency {args.concurrency}, "
                f"gateways pinned to one core; {args.rounds} rounds, medians below"
            )
            rows: dict[str, list[tuple[float, list[float], float]]] = {}
            for _ in range(args.rounds):
                for name, port, model, pid in cases:
                    url = f"http://127.0.0.1:{port}/v1/chat/completions"
                    await drive(
                        url, BODY % model, headers, min(200, args.requests), args.concurrency
                    )
                    before = cpu_seconds(pid)
                    wall, latencies = await drive(
                        url, BODY % model, headers, args.requests, args.concurrency
                    )
                    rows.setdefault(name, []).append((wall, latencies, cpu_seconds(pid) - before))
            base_rate = 0.0
            for name, results in rows.items():
                results.sort(key=lambda r: r[0])
                wall, latencies, cpu = results[len(results) // 2]
                report(name, wall, latencies, cpu, args.requests)
                rate = args.requests / wall
                base_rate = base_rate or rate
                print(f"{'':<28} {rate / base_rate:8.3f} x the requests/s of no rules")
        finally:
            for process in (plain, ruled, upstream):
                process.terminate()
            for process in (plain, ruled, upstream):
                process.wait(10)


MOCK_ACCOUNT = """
name: local
type: provider-account
provider: mock
models:
  - {name: bench, price: {input_per_million: 1, output_per_million: 2}}
  - {name: spare}
"""


async def router_alone(calls: int, rounds: int) -> None:
    """Microseconds per call through the router (admit, plan, attempt, settle) and the mock."""
    from core.auth import Principal
    from core.config.loader import parse_config
    from core.providers.factory import build_provider
    from core.recording import CallContext, NullRecorder
    from core.router.limits import Limits
    from core.router.local_counters import LocalCounters
    from core.router.reload import build_snapshot
    from core.router.router import Router
    from core.router.snapshot import SnapshotSource
    from gateway.v1 import chat_pb2

    context = CallContext(
        "id", "id", Principal("user:bench@example.com", "k"), {"team": "b"}, False, 0, 0
    )
    print(
        f"\nthe router alone, in process, mock provider: {calls} calls, median of {rounds} rounds"
    )
    baseline = 0.0
    for name, config, model in (
        ("no rules", MOCK_ACCOUNT, "local/bench"),
        ("50 rules, none match", MOCK_ACCOUNT + fifty_rules(), "local/bench"),
        ("50 rules, 22 match", MOCK_ACCOUNT + fifty_rules(), "smart"),
    ):
        snapshot = build_snapshot(parse_config(config), environ={}, provider_factory=build_provider)
        router = Router(
            SnapshotSource(snapshot),
            Limits(LocalCounters(), now_ms=lambda: time.time_ns() // 1_000_000),
        )
        params = chat_pb2.ChatParams(
            model=model,
            messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, text="Say something short.")],
        )
        trace = NullRecorder().chat(context, params)
        timings = []
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(calls):
                run = await router.start_chat(params, context, trace, stream=False)
                async for _event in run.events:
                    pass
                await run.aclose()
            timings.append((time.perf_counter() - started) / calls * 1e6)
        per_call = statistics.median(timings)
        baseline = baseline or per_call
        print(f"{name:<28} {per_call:8.1f} us/call  {per_call - baseline:+7.1f} us vs no rules")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--router-calls", type=int, default=20_000)
    args = parser.parse_args()
    asyncio.run(run(args))
    asyncio.run(router_alone(args.router_calls, args.rounds))


if __name__ == "__main__":
    main()
