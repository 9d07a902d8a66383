"""Record helpers and a seam around a real store: see every insert, make it fail or stall."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from typing import Any

from core.store.base import Attempt, LogRecord, Store


def record(i: int, **changes: Any) -> LogRecord:
    values: dict[str, Any] = {
        "id": f"rec-{i:06d}",
        "created_at": 1_700_000_000_000 + i,
        "model": "mock-main/echo",
        "resolved_model": "mock-main/echo",
        "provider_account": "mock-main",
        "subject": "user:alice@example.com",
        "key_id": "key-alice",
        "status": "success",
        "http_status": 200,
        "stream": bool(i % 2),
        "latency_ms": 12.5,
        "teams": ("team:search",),
        "metadata": {"env": "test", "n": str(i)},
        "attempts": (Attempt("mock-main/echo", 200, "", 11.0),),
        "input_tokens": 3,
        "output_tokens": 5,
        "total_tokens": 8,
        "cost": 0.0001,
        "ttft_ms": 4.0 if i % 2 else None,
        "request_body": '{"model":"mock-main/echo","messages":[{"role":"user","content":"hi"}]}',
        "response_body": '{"choices":[{"message":{"role":"assistant","content":"hi"}}]}',
    }
    values.update(changes)
    return LogRecord(**values)


class Seam:
    """Delegates to `inner`; `down` makes inserts raise, `stall` makes them wait forever."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.down = False
        self.stall = False
        self.batches: list[list[str]] = []
        self.entered = asyncio.Event()

    async def insert_logs(self, records: Sequence[LogRecord]) -> None:
        self.entered.set()
        if self.stall:
            await asyncio.Event().wait()
        if self.down:
            raise sqlite3.OperationalError("database is locked")
        self.batches.append([r.id for r in records])
        await self.inner.insert_logs(records)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
