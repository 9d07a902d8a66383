"""The window counters' contract, run against every backend: local (in memory), sqlite,
mongo-memory (the stand-in, tests/fakes/mongo.py) and mongo-real (a fresh database on the
session's server). Then, for the shared backends, exactness across OS processes
(tests/contract/counters_worker.py), and the factory's choice.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import uuid
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect, DuplicateKeyError

from core.router.counters import Adjustment, Admitted, Charge, Refused, WindowCounters
from core.router.local_counters import LocalCounters
from core.store import mongo_counters
from core.store.factory import open_counters
from core.store.mongo_counters import CounterConflict, MongoCounters
from core.store.sqlite_counters import SqliteCounters
from tests.fakes.mongo import FakeMongoClient

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ["local", "sqlite", "mongo-memory", "mongo-real"]
NOW = 1_700_000_000_000
HOUR = 3_600_000
LIVE = NOW + HOUR  # an expiry no test reaches


@pytest.fixture(params=BACKENDS)
async def counters(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    async with AsyncExitStack() as stack:
        made: WindowCounters
        if request.param == "local":
            made = LocalCounters()
        elif request.param == "sqlite":
            made = SqliteCounters(tmp_path / "limits.db")
        elif request.param == "mongo-memory":
            made = MongoCounters(FakeMongoClient()["gateway"])  # type: ignore[arg-type]
        else:
            uri = request.getfixturevalue("mongo_uri")
            made = MongoCounters(await stack.enter_async_context(real_database(uri)))
        await made.open()
        try:
            yield made
        finally:
            await made.aclose()


@asynccontextmanager
async def real_database(uri: str) -> AsyncIterator[Any]:
    """A fresh database on the real server, dropped afterwards."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    name = f"gateway_test_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


def charge(
    key: str,
    amount: int,
    limit: int,
    *,
    slot: int = 10,
    first: int | None = None,
    overshoot: bool = False,
    expires: int = LIVE,
) -> Charge:
    first_slot = slot if first is None else first
    return Charge(key, slot, first_slot, amount, limit, expires, overshoot)


async def total(counters: WindowCounters, key: str, first: int = 0, last: int = 10) -> int:
    """The window's total, read with a charge of 0 (which fits any window up to its limit)."""
    result = await counters.charge([charge(key, 0, 1 << 60, slot=last, first=first)], NOW)
    assert isinstance(result, Admitted)
    return result.used[0]


async def test_fits_up_to_the_limit_exactly_then_refuses(counters: WindowCounters) -> None:
    assert await counters.charge([charge("k", 4, 10)], NOW) == Admitted((4,))
    assert await counters.charge([charge("k", 6, 10)], NOW) == Admitted((10,))
    assert await counters.charge([charge("k", 1, 10)], NOW) == Refused(0, 10, 10)
    assert await counters.charge([charge("k", 0, 10)], NOW) == Admitted((10,))
    assert await total(counters, "k") == 10


async def test_an_empty_list_is_admitted(counters: WindowCounters) -> None:
    assert await counters.charge([], NOW) == Admitted(())


async def test_overshoot_admits_while_under_the_limit(counters: WindowCounters) -> None:
    assert await counters.charge([charge("b", 8, 10, overshoot=True)], NOW) == Admitted((8,))
    # Without overshoot 8 + 5 does not fit; with it, 8 < 10 does.
    assert await counters.charge([charge("b", 5, 10)], NOW) == Refused(0, 8, 10)
    assert await counters.charge([charge("b", 5, 10, overshoot=True)], NOW) == Admitted((13,))
    assert await counters.charge([charge("b", 1, 10, overshoot=True)], NOW) == Refused(0, 13, 10)
    assert await counters.charge([charge("b", 0, 13, overshoot=True)], NOW) == Refused(0, 13, 10)
    assert await total(counters, "b") == 13


async def test_a_refused_charge_applies_none_of_the_others(counters: WindowCounters) -> None:
    await counters.charge([charge("full", 2, 100, slot=7)], NOW)
    refused = await counters.charge(
        [charge("a", 3, 10), charge("full", 5, 4, first=0), charge("c", 1, 10)], NOW
    )
    assert refused == Refused(1, 2, 7)
    assert await total(counters, "a") == 0
    assert await total(counters, "full") == 2
    assert await total(counters, "c") == 0
    # The same charges fit once the blocking limit allows it, and are all applied.
    admitted = await counters.charge(
        [charge("a", 3, 10), charge("full", 5, 7, first=0), charge("c", 1, 10)], NOW
    )
    assert admitted == Admitted((3, 7, 1))
    assert [await total(counters, k) for k in ("a", "full", "c")] == [3, 7, 1]


async def test_the_same_key_twice_sees_its_first_charge(counters: WindowCounters) -> None:
    assert await counters.charge([charge("k", 6, 10), charge("k", 4, 10)], NOW) == Admitted((6, 10))
    assert await total(counters, "k") == 10
    # Separate windows of one key: both fit. One window: the second sees the first.
    apart = [charge("j", 6, 10), charge("j", 6, 10, slot=9, first=9)]
    assert await counters.charge(apart, NOW) == Admitted((6, 6))
    assert await counters.charge([charge("m", 6, 10), charge("m", 6, 10)], NOW) == Refused(1, 6, 10)
    assert await total(counters, "m") == 0


async def test_a_window_sums_its_slots_from_first_to_slot_only(counters: WindowCounters) -> None:
    for slot, amount in ((1, 1), (2, 10), (3, 100), (4, 1000)):
        await counters.charge([charge("w", amount, 1 << 30, slot=slot)], NOW)
    assert await total(counters, "w", 2, 3) == 110
    assert await total(counters, "w", 1, 4) == 1111
    assert await total(counters, "w", 4, 9) == 1000
    assert await total(counters, "w", 0, 0) == 0
    assert await total(counters, "w", 5, 9) == 0
    # The charge lands in its own slot, counted by its own window only.
    assert await counters.charge([charge("w", 5, 116, slot=3, first=2)], NOW) == Admitted((115,))
    assert await counters.charge([charge("w", 2, 116, slot=3, first=2)], NOW) == Refused(0, 115, 2)
    assert await total(counters, "w", 3, 3) == 105


async def test_a_refusal_names_the_oldest_non_zero_slot(counters: WindowCounters) -> None:
    await counters.charge([charge("o", 2, 100, slot=3), charge("o", 3, 100, slot=5)], NOW)
    assert await counters.charge([charge("o", 1, 3, slot=6, first=4)], NOW) == Refused(0, 3, 5)
    assert await counters.charge([charge("o", 1, 5, slot=6, first=1)], NOW) == Refused(0, 5, 3)
    # A slot settled down to 0 is no longer the oldest.
    await counters.settle([Adjustment("o", 3, -2, LIVE)])
    assert await counters.charge([charge("o", 1, 3, slot=6, first=1)], NOW) == Refused(0, 3, 5)


async def test_settle_adds_subtracts_clamps_at_zero_and_creates(counters: WindowCounters) -> None:
    await counters.charge([charge("s", 5, 100)], NOW)
    await counters.settle([Adjustment("s", 10, 7, LIVE)])
    assert await total(counters, "s") == 12
    await counters.settle([Adjustment("s", 10, -4, LIVE)])
    assert await total(counters, "s") == 8
    await counters.settle([Adjustment("s", 10, -100, LIVE)])
    assert await total(counters, "s") == 0
    assert await counters.charge([charge("s", 3, 3)], NOW) == Admitted((3,))  # not -92 + 3
    # A missing slot (and key) is created; a negative delta on it leaves nothing.
    await counters.settle([Adjustment("new", 4, 9, LIVE), Adjustment("gone", 4, -9, LIVE)])
    assert await counters.charge([charge("new", 1, 9, first=0)], NOW) == Refused(0, 9, 4)
    assert await total(counters, "gone") == 0
    # Several adjustments of one key in one call all apply.
    await counters.settle([Adjustment("new", 4, -5, LIVE), Adjustment("new", 6, 2, LIVE)])
    assert await total(counters, "new") == 6


async def test_expired_slots_are_forgotten_and_live_ones_kept(counters: WindowCounters) -> None:
    soon = NOW + 1000
    await counters.charge(
        [charge("e", 5, 100, slot=1, expires=soon), charge("e", 3, 100, slot=2)], NOW
    )
    await counters.charge([charge("dead", 4, 100, slot=1, expires=soon)], NOW)
    assert await total(counters, "e", 1, 2) == 8
    later = NOW + 10 * 60_000  # past the expiry and every backend's sweep interval
    result = await counters.charge([charge("e", 1, 100, slot=3, first=1)], later)
    assert result == Admitted((4,))  # slot 1 forgotten, slot 2 kept
    assert await stored_slots(counters) == {("e", 2, 3), ("e", 3, 1)}
    # A slot written again after it died starts again from 0.
    again = await counters.charge([charge("dead", 2, 100, slot=1, expires=later + HOUR)], later)
    assert again == Admitted((2,))


async def test_concurrent_charges_never_exceed_the_limit(counters: WindowCounters) -> None:
    results = await asyncio.gather(*(counters.charge([charge("c", 1, 20)], NOW) for _ in range(50)))
    assert sum(isinstance(r, Admitted) for r in results) == 20
    assert sorted(r.used[0] for r in results if isinstance(r, Admitted)) == list(range(1, 21))
    assert {r.used for r in results if isinstance(r, Refused)} == {20}
    assert await total(counters, "c") == 20


async def test_concurrent_multi_key_charges_stay_all_or_nothing(counters: WindowCounters) -> None:
    # "a" blocks after 25; "b" must then count only the admitted calls, never refused ones.
    calls = [[charge("b", 1, 100), charge("a", 1, 25), charge(f"own{i}", 1, 1)] for i in range(60)]
    results = await asyncio.gather(*(counters.charge(c, NOW) for c in calls))
    admitted = [i for i, r in enumerate(results) if isinstance(r, Admitted)]
    assert len(admitted) == 25
    assert await total(counters, "a") == 25
    assert await total(counters, "b") == 25
    assert sum([await total(counters, f"own{i}") for i in range(60)]) == 25
    assert {r.index for r in results if isinstance(r, Refused)} == {1}


async def stored_slots(counters: Any) -> set[tuple[str, int, int]]:
    """(key, slot, amount) of every slot the backend still stores."""
    if isinstance(counters, LocalCounters):
        keys = counters._keys
        return {(k, s, e[0]) for k, slots in keys.items() for s, e in slots.items()}
    if isinstance(counters, SqliteCounters):
        with sqlite3.connect(counters._path) as conn:
            rows = conn.execute("SELECT key, slot, amount FROM window_slots").fetchall()
        return {(k, s, a) for k, s, a in rows}
    docs = [d async for d in counters._collection.find({})]
    return {(d["_id"], s, a) for d in docs for s, a, _ in d["s"]}


# --- MongoDB: what only the compare-and-swap path does ----------------------------------
@pytest.fixture
def shared_fake() -> tuple[MongoCounters, MongoCounters, Any]:
    """Two instances (as two processes would be) over one in-memory database."""
    database: Any = FakeMongoClient()["gateway"]
    return MongoCounters(database), MongoCounters(database), database["window_counters"]


async def test_mongo_a_conflict_that_no_longer_fits_takes_back_written_keys(
    shared_fake: tuple[MongoCounters, MongoCounters, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, other, collection = shared_fake
    await mine.charge([charge("b", 1, 10)], NOW)  # "b" exists (updated), "fresh" is new
    insert_one = collection.insert_one
    races = ["fresh"]  # a new key the other instance charges 6 just before our insert

    async def raced(document: dict[str, Any]) -> Any:
        if races and document["_id"] == races[0]:
            assert await other.charge([charge(races.pop(), 6, 20)], NOW) == Admitted((6,))
        return await insert_one(document)

    monkeypatch.setattr(collection, "insert_one", raced)
    result = await mine.charge([charge("b", 2, 10), charge("fresh", 5, 10)], NOW)
    assert result == Refused(1, 6, 10)
    assert await total(mine, "b") == 1  # written, then taken back
    assert await total(mine, "fresh") == 6
    # A conflict after which the charges still fit: written on the second attempt.
    races.append("fresh2")
    result = await mine.charge([charge("b", 2, 10), charge("fresh2", 4, 20)], NOW)
    assert result == Admitted((3, 10))
    assert not races
    assert await total(mine, "fresh2") == 10


async def test_mongo_a_failed_write_takes_back_written_keys(
    shared_fake: tuple[MongoCounters, MongoCounters, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, _, collection = shared_fake

    async def down(document: dict[str, Any]) -> Any:
        raise AutoReconnect("down")

    await mine.charge([charge("a", 1, 10)], NOW)
    monkeypatch.setattr(collection, "insert_one", down)
    with pytest.raises(AutoReconnect):
        await mine.charge([charge("a", 2, 10), charge("new", 1, 10)], NOW)
    assert await total(mine, "a") == 1


async def test_mongo_endless_conflicts_raise(
    shared_fake: tuple[MongoCounters, MongoCounters, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, _, collection = shared_fake

    async def taken(document: dict[str, Any]) -> Any:
        raise DuplicateKeyError("E11000 duplicate key error", 11000)

    monkeypatch.setattr(collection, "insert_one", taken)
    monkeypatch.setattr(mongo_counters, "MAX_ATTEMPTS", 3)
    with pytest.raises(CounterConflict):
        await mine.charge([charge("k", 1, 10)], NOW)
    with pytest.raises(CounterConflict):
        await mine.settle([Adjustment("k", 1, 1, LIVE)])


# --- several OS processes on one store ------------------------------------------------
# No process alone can use the whole limit: exact sharing admits the limit in all, counting
# per process would admit up to PROCESSES * per_process. SQLite charges are fast, so its
# processes each fire more, to be sure that they overlap.
PROCESSES = 3


async def run_workers(where: list[str], per_process: int, limit: int) -> list[int]:
    """Starts PROCESSES workers, lets them charge at once; how many each admitted."""
    numbers = [str(per_process), str(limit), str(NOW)]
    command = [sys.executable, "-m", "tests.contract.counters_worker", *where, *numbers]
    workers = [
        await asyncio.create_subprocess_exec(*command, cwd=ROOT, stdin=PIPE, stdout=PIPE)
        for _ in range(PROCESSES)
    ]
    try:
        for worker in workers:  # each has opened its own counters
            assert worker.stdout is not None
            assert await worker.stdout.readline() == b"ready\n"
        outputs = await asyncio.gather(*(w.communicate(b"go\n") for w in workers))
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
    assert [w.returncode for w in workers] == [0] * PROCESSES
    return [int(out) for out, _ in outputs]


async def test_processes_sharing_a_sqlite_file_admit_exactly_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "limits.db"
    admitted = await run_workers(["sqlite", str(path)], 1000, 1500)
    assert sum(admitted) == 1500
    check = SqliteCounters(path)
    await check.open()
    try:
        assert await total(check, "shared") == 1500
    finally:
        await check.aclose()


async def test_processes_sharing_a_mongo_database_admit_exactly_the_limit(mongo_uri: str) -> None:
    async with real_database(mongo_uri) as database:
        admitted = await run_workers(["mongo", mongo_uri, database.name], 150, 200)
        assert sum(admitted) == 200
        assert await total(MongoCounters(database), "shared") == 200


# --- the factory ------------------------------------------------------------------------
async def test_open_counters_picks_the_backend(tmp_path: Path) -> None:
    local = open_counters(uri=None, data_dir=tmp_path, shared=False)
    assert isinstance(local, LocalCounters)
    shared = open_counters(uri=None, data_dir=tmp_path, shared=True)
    assert isinstance(shared, SqliteCounters)
    await shared.open()
    await shared.aclose()
    assert (tmp_path / "limits.db").exists()
    mongo = open_counters(uri="mongodb://127.0.0.1:1", data_dir=tmp_path, shared=False)
    assert isinstance(mongo, MongoCounters)
    await mongo.aclose()  # closes the client it made, having never connected
