"""MongoDB clients wait a bounded time for an unreachable server (not PyMongo's 30 s)."""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from pymongo.errors import ServerSelectionTimeoutError

from core.config.settings import Settings
from core.store.factory import open_counters, open_store
from core.store.mongo import MongoStore
from core.store.mongo_client import client_options
from tests.ports import free_port


def run_and_collect(check: Coroutine[Any, Any, None]) -> None:
    """Runs `check` in a loop of its own, then collects what the closed loop left."""
    asyncio.run(check)
    # PyMongo's async monitor may leave a socket it was connecting with when the client
    # closes: once the loop is gone it is garbage; collect it here, not in a later test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def unreachable(query: str = "") -> str:
    """A MongoDB URI naming a port nothing listens on."""
    return f"mongodb://127.0.0.1:{free_port()}/?directConnection=true{query}"


@pytest.mark.parametrize(
    ("uri", "timeout", "options"),
    [
        ("mongodb://db:27017", 5.0, {"serverSelectionTimeoutMS": 5000}),
        ("mongodb://db:27017/?w=1", 0.0001, {"serverSelectionTimeoutMS": 1}),
        ("mongodb://db:27017", None, {}),
        ("mongodb://db:27017/?serverSelectionTimeoutMS=800", 5.0, {}),
        ("mongodb://a:1,b:2/?w=1&serverselectiontimeoutms=800", 5.0, {}),
        ("mongodb://db:27017/?w=1;serverSelectionTimeoutMS=800", 5.0, {}),
    ],
)
def test_the_setting_applies_unless_the_uri_sets_its_own(
    uri: str, timeout: float | None, options: dict[str, int]
) -> None:
    assert client_options(uri, timeout) == options


def test_the_default_is_five_seconds() -> None:
    assert Settings().mongodb_server_selection_timeout_seconds == 5.0


def test_an_unreachable_store_fails_within_the_selection_timeout(tmp_path: Path) -> None:
    async def check() -> None:
        store = open_store(uri=unreachable(), data_dir=tmp_path, server_selection_timeout=0.3)
        assert isinstance(store, MongoStore)
        started = time.monotonic()
        with pytest.raises(ServerSelectionTimeoutError):
            await store.open()
        await store.close()
        assert time.monotonic() - started < 3

    run_and_collect(check())


def test_the_uris_own_timeout_wins(tmp_path: Path) -> None:
    async def check() -> None:
        uri = unreachable("&serverSelectionTimeoutMS=300")
        store = open_store(uri=uri, data_dir=tmp_path, server_selection_timeout=60)
        started = time.monotonic()
        with pytest.raises(ServerSelectionTimeoutError):
            await store.open()
        await store.close()
        assert time.monotonic() - started < 3

    run_and_collect(check())


def test_unreachable_counters_fail_and_close_within_bounds(tmp_path: Path) -> None:
    async def check() -> None:
        counters = open_counters(
            uri=unreachable(), data_dir=tmp_path, shared=True, server_selection_timeout=0.3
        )
        started = time.monotonic()
        with pytest.raises(ServerSelectionTimeoutError):
            await counters.open()
        await counters.aclose()
        assert time.monotonic() - started < 3

    run_and_collect(check())
