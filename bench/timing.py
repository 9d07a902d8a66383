"""What the latency benchmarks share: percentiles, a summary line, and the `--db` runner."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any


def p95(ms: list[float]) -> float:
    ordered = sorted(ms)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def summary(name: str, ms: list[float], width: int = 34) -> str:
    return (
        f"{name:<{width}} p50 {statistics.median(ms):7.2f} ms   p95 {p95(ms):7.2f} ms"
        f"   max {max(ms):7.2f} ms"
    )


def run_on_db(main: Callable[[Path], Coroutine[Any, Any, None]], db: Path | None) -> None:
    """Runs `main` on `db` (kept for later runs), or on a file in a temporary directory."""
    if db is not None:
        asyncio.run(main(db))
        return
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(main(Path(tmp) / "gateway.db"))
