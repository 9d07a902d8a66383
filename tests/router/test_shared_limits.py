"""Two gateway instances sharing one store admit exactly `limit_to` together, not twice it:
each instance has its own counters connection (to the SQLite file, or to the MongoDB-
compatible server), and both take concurrent load through the whole HTTP stack."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import openai
from pymongo import AsyncMongoClient

from core.router.counters import WindowCounters
from core.store.mongo_counters import MongoCounters
from core.store.sqlite_counters import SqliteCounters
from tests.router.conftest import MESSAGES, Gateway, gateway

LIMIT = 30
CALLS_PER_INSTANCE = 40
POLICY = f"""
name: limits
type: gateway-rate-limiting-config
rules:
  - {{id: shared, limit_to: {LIMIT}, unit: requests_per_hour}}
"""


async def admitted_by(instance: Gateway) -> int:
    async def one() -> bool:
        try:
            await instance.openai.chat.completions.create(model="mock-a/echo", messages=MESSAGES)
        except openai.RateLimitError:
            return False
        return True

    return sum(await asyncio.gather(*(one() for _ in range(CALLS_PER_INSTANCE))))


@asynccontextmanager
async def two_instances(
    tmp_path: Path, counters: Callable[[], WindowCounters]
) -> AsyncIterator[tuple[Gateway, Gateway]]:
    async with AsyncExitStack() as stack:
        instances = []
        for name in ("one", "two"):
            shared = counters()
            await shared.open()
            stack.push_async_callback(shared.aclose)
            (tmp_path / name).mkdir()
            instances.append(
                await stack.enter_async_context(
                    gateway(POLICY, data_dir=tmp_path / name, counters=shared)
                )
            )
        yield instances[0], instances[1]


async def exactly_the_limit(first: Gateway, second: Gateway) -> None:
    # One call each first: both instances really charge the one shared bucket...
    for instance in (first, second):
        await instance.openai.chat.completions.create(model="mock-a/echo", messages=MESSAGES)
    # ...then both under concurrent load: together they admit exactly what is left.
    counts = await asyncio.gather(admitted_by(first), admitted_by(second))
    assert 2 + sum(counts) == LIMIT, counts


async def test_two_instances_on_one_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "limits.db"
    async with two_instances(tmp_path, lambda: SqliteCounters(path)) as (first, second):
        await exactly_the_limit(first, second)


async def test_two_instances_on_one_mongodb(tmp_path: Path, mongo_uri: str) -> None:
    database = f"limits_{uuid.uuid4().hex[:12]}"
    clients: list[AsyncMongoClient[dict[str, object]]] = []

    def counters() -> WindowCounters:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_uri)
        clients.append(client)
        return MongoCounters(client[database])  # type: ignore[arg-type]

    try:
        async with two_instances(tmp_path, counters) as (first, second):
            await exactly_the_limit(first, second)
    finally:
        await clients[0].drop_database(database)
        for client in clients:
            await client.close()
