"""The benchmark suite: the gateway against its direct-to-upstream baseline, in one run.

A fast local upstream (`bench.upstream`) and the load generator (`wrk`) share CPU 1; the
gateway's processes are pinned to CPU 0. For each deployment mode (all-in-one `serve`; split
`core` + `facade` over real gRPC) and each configuration (20 routing rules and metrics, with
request logging to SQLite on, then off), non-streaming and streaming chat at 1, 16 and 64
connections: requests/s, latency added to the direct baseline at p50/p90/p99, CPU ms per
request of all gateway processes, and resident memory idle / peak / after load. Prints a
table and writes it to bench/RESULTS.md with the date, machine and command.

    make bench-suite    # or: .venv/bin/python -m bench.suite --seconds 5

`--litellm PATH` adds LiteLLM's proxy (the `litellm` command of a separate virtualenv, e.g.
`python3 -m venv /tmp/litellm && /tmp/litellm/bin/pip install 'litellm[proxy]'`) as a third
mode on the same upstream, pinned the same way, without database or callbacks: the
best-known Python gateway, measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.procstat import cpu_seconds, peak_rss_mib, pin, rss_mib
from bench.suite_config import DIRECT_MODEL, METADATA, MODEL, gateway_yaml
from bench.throughput import KEY, free_port
from bench.wrk import Load, run_wrk

GATEWAY_CPU, LOAD_CPU = 0, 1
KINDS = ("non-streaming", "streaming")
RESULTS = Path(__file__).with_name("RESULTS.md")


def chat_body(model: str, stream: bool) -> bytes:
    body: dict[str, object] = {
        "model": model,
        "messages": [{"role": "user", "content": "Say something short."}],
    }
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return json.dumps(body).encode()


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    rules: bool
    env: dict[str, str]


VARIANTS = (
    Variant("20 rules, metrics, logging on", True, {}),
    Variant("20 rules, metrics, logging off", True, {"GATEWAY_REQUEST_LOGGING": "false"}),
)


@dataclass(slots=True)
class Gateway:
    processes: list[subprocess.Popen[bytes]]
    url: str

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]


LITELLM_VARIANT = Variant("LiteLLM proxy, no DB, no callbacks", False, {})


def litellm_yaml(upstream_port: int) -> str:
    return f"""
model_list:
  - model_name: {MODEL}
    litellm_params:
      model: openai/{DIRECT_MODEL}
      api_base: http://127.0.0.1:{upstream_port}/v1
      api_key: unused
"""


@contextmanager
def litellm(command: str, directory: Path, upstream_port: int) -> Iterator[Gateway]:
    directory.mkdir()
    (directory / "litellm.yaml").write_text(litellm_yaml(upstream_port))
    port = free_port()
    process = subprocess.Popen(
        [command, "--config", str(directory / "litellm.yaml"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={
            **os.environ,
            "LITELLM_LOG": "ERROR",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of its price list at start-up
            # Without a master key it checks no key: like the issue's baseline, no DB.
            "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
        },
    )
    try:
        pin(process.pid, GATEWAY_CPU)
        yield Gateway([process], f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(30)


@contextmanager
def gateway(mode: str, directory: Path, config: str, env: dict[str, str]) -> Iterator[Gateway]:
    directory.mkdir()
    (directory / "gateway.yaml").write_text(config)
    http_port, grpc_port = free_port(), free_port()
    base = {
        **os.environ,
        **env,
        "GATEWAY_CONFIG": str(directory / "gateway.yaml"),
        "GATEWAY_DATA_DIR": str(directory),
        "GATEWAY_ADMIN_KEY": KEY,
        "GATEWAY_HTTP_PORT": str(http_port),
        "GATEWAY_GRPC_PORT": str(grpc_port),
        "GATEWAY_CORE_TARGET": f"127.0.0.1:{grpc_port}",
    }
    commands = ["serve"] if mode == "all-in-one" else ["core", "facade"]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "gateway_cli.main", command],
            env=base,
            stdout=subprocess.DEVNULL,
        )
        for command in commands
    ]
    try:
        for process in processes:
            pin(process.pid, GATEWAY_CPU)
        yield Gateway(processes, f"http://127.0.0.1:{http_port}")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


def ready(url: str, body: bytes, headers: dict[str, str], tries: int = 2400) -> None:
    """Waits until `url` answers `body` in full (a stream up to its [DONE])."""
    last: Exception | None = None
    for _ in range(tries):
        request = urllib.request.Request(
            url, data=body, headers={**headers, "Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                text = response.read()
            if b'"stream": true' in body and not text.rstrip().endswith(b"[DONE]"):
                raise RuntimeError(f"{url}: the stream did not end with [DONE]: {text[-200:]!r}")
            return
        except OSError as exc:
            last = exc
            time.sleep(0.05)  # another process is starting: nothing to wait on but its port
    raise RuntimeError(f"{url} never answered: {last}")


@dataclass(slots=True)
class Row:
    mode: str
    variant: str
    kind: str
    connections: int
    load: Load
    cpu_ms: float | None
    direct: Load | None
    upstream_busy: float


@dataclass(slots=True)
class Memory:
    mode: str
    variant: str
    idle: float
    peak: float
    after: list[float] = field(default_factory=list)


def measure(
    url: str,
    body: bytes,
    headers: dict[str, str],
    connections: int,
    seconds: float,
    gateway_pids: Sequence[int],
    upstream_pid: int,
) -> tuple[Load, float | None, float]:
    run_wrk(url, body, headers, connections=connections, seconds=1, cpu=LOAD_CPU)  # warm-up
    before = cpu_seconds(gateway_pids) if gateway_pids else 0.0
    upstream_before = cpu_seconds([upstream_pid])
    load = run_wrk(url, body, headers, connections=connections, seconds=seconds, cpu=LOAD_CPU)
    cpu = cpu_seconds(gateway_pids) - before if gateway_pids else None
    busy = (cpu_seconds([upstream_pid]) - upstream_before) / load.seconds
    return load, (cpu / load.requests * 1000 if cpu is not None else None), busy


def run(args: argparse.Namespace) -> tuple[list[Row], list[Memory]]:
    up_port = free_port()
    upstream = subprocess.Popen([sys.executable, "-m", "bench.upstream", str(up_port)])
    pin(upstream.pid, LOAD_CPU)
    pin(os.getpid(), LOAD_CPU)
    headers = {"Authorization": f"Bearer {KEY}", "X-TFY-METADATA": METADATA}
    direct_url = f"http://127.0.0.1:{up_port}/v1/chat/completions"
    rows: list[Row] = []
    memory: list[Memory] = []
    try:
        direct: dict[tuple[str, int], Load] = {}
        for kind in KINDS:
            body = chat_body(DIRECT_MODEL, kind == "streaming")
            ready(direct_url, body, {"Content-Type": "application/json"})
            for c in args.connections:
                load, _, busy = measure(direct_url, body, {}, c, args.seconds, [], upstream.pid)
                direct[kind, c] = load
                rows.append(Row("direct", "upstream alone", kind, c, load, None, None, busy))
                print_row(rows[-1], flush=True)
        runs: list[tuple[str, Variant]] = [(m, v) for m in args.modes for v in VARIANTS]
        if args.litellm:
            runs.append(("litellm", LITELLM_VARIANT))
        with tempfile.TemporaryDirectory() as tmp:
            for mode, variant in runs:
                directory = Path(tmp) / f"{mode}-{len(memory)}"
                if mode == "litellm":
                    started = litellm(args.litellm, directory, up_port)
                else:
                    config = gateway_yaml(up_port, rules=variant.rules)
                    started = gateway(mode, directory, config, variant.env)
                with started as gw:
                    url = f"{gw.url}/v1/chat/completions"
                    for kind in KINDS:
                        ready(url, chat_body(MODEL, kind == "streaming"), headers)
                    usage = Memory(mode, variant.name, rss_mib(gw.pids), 0.0)
                    for kind in KINDS:
                        body = chat_body(MODEL, kind == "streaming")
                        for c in args.connections:
                            load, cpu_ms, busy = measure(
                                url, body, headers, c, args.seconds, gw.pids, upstream.pid
                            )
                            row = Row(
                                mode, variant.name, kind, c, load, cpu_ms, direct[kind, c], busy
                            )
                            rows.append(row)
                            print_row(row, flush=True)
                            usage.after.append(rss_mib(gw.pids))
                    usage.peak = peak_rss_mib(gw.pids)
                    memory.append(usage)
    finally:
        upstream.terminate()
        upstream.wait(10)
    return rows, memory


HEADER = (
    "| mode | configuration | kind | conns | req/s | x direct | added p50 / p90 / p99 ms "
    "| CPU ms/req | errors | upstream busy |\n|---|---|---|---|---|---|---|---|---|---|"
)


def row_text(row: Row) -> str:
    if row.direct is None:
        added = f"({row.load.p50_ms:.2f} / {row.load.p90_ms:.2f} / {row.load.p99_ms:.2f})"
        ratio = ""
    else:
        added = " / ".join(
            f"{mine - base:.2f}"
            for mine, base in (
                (row.load.p50_ms, row.direct.p50_ms),
                (row.load.p90_ms, row.direct.p90_ms),
                (row.load.p99_ms, row.direct.p99_ms),
            )
        )
        ratio = f"{row.load.rate / row.direct.rate:.2f}"
    cpu = f"{row.cpu_ms:.3f}" if row.cpu_ms is not None else ""
    return (
        f"| {row.mode} | {row.variant} | {row.kind} | {row.connections} | {row.load.rate:,.0f} "
        f"| {ratio} | {added} | {cpu} | {row.load.errors} | {row.upstream_busy:.0%} |"
    )


def print_row(row: Row, *, flush: bool = False) -> None:
    print(row_text(row), flush=flush)


def memory_text(memory: Sequence[Memory]) -> str:
    lines = [
        "| mode | configuration | RSS idle MiB | peak MiB | after each load MiB |",
        "|---|---|---|---|---|",
    ]
    for m in memory:
        after = ", ".join(f"{value:.0f}" for value in m.after)
        lines.append(f"| {m.mode} | {m.variant} | {m.idle:.0f} | {m.peak:.0f} | {after} |")
    return "\n".join(lines)


def against_litellm(rows: Sequence[Row]) -> str:
    """Each gateway row against LiteLLM's at the same load: requests/s and CPU per request."""
    theirs = {(r.kind, r.connections): r for r in rows if r.mode == "litellm"}
    if not theirs:
        return ""
    lines = [
        "| mode | configuration | kind | conns | x LiteLLM req/s | LiteLLM CPU / ours |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        other = theirs.get((row.kind, row.connections))
        if other is None or row.mode in ("direct", "litellm") or not row.cpu_ms:
            continue
        cpu = f"{other.cpu_ms / row.cpu_ms:.1f}" if other.cpu_ms else ""
        lines.append(
            f"| {row.mode} | {row.variant} | {row.kind} | {row.connections} "
            f"| {row.load.rate / other.load.rate:.1f} | {cpu} |"
        )
    return "\n".join(lines)


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({model})"


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_results(args: argparse.Namespace, rows: list[Row], memory: list[Memory]) -> str:
    command = "python -m bench.suite " + shlex.join(sys.argv[1:])
    text = "\n".join(
        [
            "# Benchmark results",
            "",
            f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
            f"- machine: {machine()}",
            f"- commit: {commit()}",
            f"- command: `{command.strip()}` ({args.seconds:g} s per load, after 1 s warm-up)",
            f"- gateway processes pinned to CPU {GATEWAY_CPU}; wrk and the upstream to CPU "
            f"{LOAD_CPU}. Added latency = gateway minus direct at the same load; "
            "'upstream busy' = the upstream's CPU share of its core during the run.",
            "",
            HEADER,
            *(row_text(row) for row in rows),
            "",
            memory_text(memory),
            "",
            against_litellm(rows),
            "",
        ]
    )
    RESULTS.write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each load")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument(
        "--modes", nargs="+", default=["all-in-one", "split"], choices=["all-in-one", "split"]
    )
    parser.add_argument("--litellm", help="the `litellm` command, to measure it too")
    args = parser.parse_args()
    print(HEADER, flush=True)
    rows, memory = run(args)
    print()
    print(memory_text(memory))
    print(against_litellm(rows))
    write_results(args, rows, memory)
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
