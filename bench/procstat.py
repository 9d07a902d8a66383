"""CPU time and memory of running processes, read from /proc (Linux)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU the processes have used so far."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


def rss_mib(pids: Iterable[int]) -> float:
    """Resident memory now, summed."""
    return sum(_status_kib(pid, "VmRSS") for pid in pids) / 1024


def peak_rss_mib(pids: Iterable[int]) -> float:
    """The largest resident memory each process has had (VmHWM), summed."""
    return sum(_status_kib(pid, "VmHWM") for pid in pids) / 1024


def pin(pid: int, cpu: int) -> None:
    """Keeps `pid` on one CPU, where the machine has more than one."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(pid, {cpu})
