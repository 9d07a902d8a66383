"""Background threads lower their own priority, and only their own."""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.background import BACKGROUND_NICE, yield_to_requests

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-thread niceness is Linux's")


def _own_priority() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_a_background_thread_is_niced_and_the_caller_is_not() -> None:
    before = _own_priority()
    with ThreadPoolExecutor(max_workers=1, initializer=yield_to_requests) as pool:
        background = pool.submit(_own_priority).result()
    assert background == min(before + BACKGROUND_NICE, 19)
    assert _own_priority() == before


def test_the_sqlite_log_lanes_are_background_and_the_key_lane_is_not() -> None:
    from core.store.sqlite import _Lanes

    lanes = _Lanes(None, lambda: 0)
    try:
        base = _own_priority()
        niced = min(base + BACKGROUND_NICE, 19)
        assert lanes.logs._executor.submit(_own_priority).result() == niced
        assert lanes.checkpoints._executor.submit(_own_priority).result() == niced
        assert lanes.keys._executor.submit(_own_priority).result() == base
    finally:
        for lane in (lanes.logs, lanes.checkpoints, lanes.keys, lanes.reads, *lanes.metrics):
            lane._executor.shutdown()
