"""Drives one HTTP load with `wrk` (Debian's package) and reads its figures back as numbers.

wrk is a C load generator: at the rates a fast gateway reaches, a Python client would be the
bottleneck and its own CPU would cloud the gateway's. A Lua `done` hook prints one JSON line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_SCRIPT = r"""
local body_file = io.open(os.getenv("BENCH_BODY_FILE"), "rb")
wrk.method = "POST"
wrk.body = body_file:read("*a")
body_file:close()
wrk.headers["Content-Type"] = "application/json"
for name, value in string.gmatch(os.getenv("BENCH_HEADERS") or "", "([^\n:]+): ([^\n]+)") do
  wrk.headers[name] = value
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "socket_errors": %d, "non_2xx": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""


@dataclass(frozen=True, slots=True)
class Load:
    """What one wrk run measured."""

    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk not found: run ./scripts/install-bench-tools.sh (Debian package wrk)")
    return path


def run_wrk(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    connections: int,
    seconds: float,
    cpu: int | None,
) -> Load:
    """One run of `connections` keep-alive connections for `seconds`, on one thread."""
    with tempfile.TemporaryDirectory() as tmp:
        script, body_file = Path(tmp) / "post.lua", Path(tmp) / "body.json"
        script.write_text(_SCRIPT)
        body_file.write_bytes(body)
        command = [
            wrk_path(),
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ]
        if cpu is not None:
            command = ["taskset", "-c", str(cpu), *command]
        env = {
            "BENCH_BODY_FILE": str(body_file),
            "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in headers.items()),
            "PATH": "/usr/bin:/bin",
        }
        output = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    line = next((ln for ln in output.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{output.stdout}\n{output.stderr}")
    figures = json.loads(line.removeprefix("BENCH_JSON "))
    return Load(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        errors=figures["socket_errors"] + figures["non_2xx"],
        p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
    )
