"""Threads whose work nobody waits for yield the CPU to the ones answering requests.

The log writer's inserts and the WAL checkpoints run on threads of their own. When the
gateway has one core (or is pinned to one), every millisecond they run is a millisecond a
request waits: a batch of records inserted every 0.2 s showed up as the p99 of one-connection
latency (2.9-3.3 ms; 2.1-2.4 ms with the writer niced, `bench/suite.py`). A higher nice value
for those threads lets the scheduler run the event loop first; the writer still gets every
idle moment, and records are journaled before the answer anyway (core/logs/journal.py).
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

BACKGROUND_NICE = 10
"""Added to a background thread's niceness: the kernel then weights it ~10x below the loop."""


def yield_to_requests() -> None:
    """Lowers the calling thread's scheduling priority (a thread pool's `initializer`).

    Linux only: there a thread's niceness is its own (`setpriority` on its thread id);
    elsewhere the same call would lower the whole process, so it does nothing.
    """
    if sys.platform != "linux":
        return
    thread_id = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread_id)
        os.setpriority(os.PRIO_PROCESS, thread_id, min(current + BACKGROUND_NICE, 19))
    except OSError as exc:  # a sandbox that forbids it: run at normal priority
        log.debug("could not lower the priority of a background thread: %s", exc)
