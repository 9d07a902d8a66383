"""What routing policies cost on the hot path: requests/s and CPU per request with 50 rules
configured (rate limits, budgets, load balancing, fallbacks) against a gateway with none.

Two `llm-gateway serve` processes (SQLite, in-memory limit counters) share one core and one
local OpenAI-compatible upstream; rounds alternate between them so machine noise hits both.
Rows: no rules; 50 rules none of which match the request; 50 rules where 22 match (15 rate
limits and 5 budgets charged and settled on every call, a load-balancing rule that picks the
target of a virtual model, and a fallback rule matching but never needed).

    make bench-policies   # or: .venv/bin/python -m bench.policies --requests 4000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
