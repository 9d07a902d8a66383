"""The one clock identity code reads, injectable so tests can move time instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeAlias

Clock: TypeAlias = Callable[[], float]
"""Seconds since the epoch, like `time.time`."""

system_clock: Clock = time.time


def epoch_ms(clock: Clock) -> int:
    """The clock's reading in epoch milliseconds."""
    return int(clock() * 1000)
