"""Chooses the store adapter from the configured URI."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.router.counters import WindowCounters
from core.router.local_counters import LocalCounters
from core.store.base import Store
from core.store.sqlite import SqliteStore
from core.store.sqlite_counters import SqliteCounters
from core.usage.rollup import Rollups

MONGO_SCHEMES = ("mongodb://", "mongodb+srv://")
SQLITE_FILE = "gateway.db"
# The counters' own file: an admission never waits for the log writer's lock.
COUNTERS_FILE = "limits.db"
MONGO_DATABASE = "llm_gateway"


def open_store(
    *,
    uri: str | None,
    data_dir: Path,
    metadata_index_keys: Sequence[str] = (),
    rollups: Rollups | None = None,
    server_selection_timeout: float | None = None,
) -> Store:
    """A MongoStore for a `mongodb://` / `mongodb+srv://` URI, else SQLite in `data_dir`.

    `server_selection_timeout` (seconds) bounds how long a MongoDB operation waits for a
    reachable server, unless the URI sets serverSelectionTimeoutMS. Nothing connects here:
    the caller awaits `open()` inside its event loop.
    """
    if uri and uri.startswith(MONGO_SCHEMES):
        # Imported here so that the embedded (SQLite) set-up never pays for importing pymongo.
        from core.store.mongo import MongoStore

        return MongoStore(
            uri,
            metadata_index_keys=metadata_index_keys,
            rollups=rollups,
            server_selection_timeout=server_selection_timeout,
        )
    return SqliteStore(data_dir / SQLITE_FILE, rollups=rollups)


def open_counters(
    *,
    uri: str | None,
    data_dir: Path,
    shared: bool,
    database: str = MONGO_DATABASE,
    server_selection_timeout: float | None = None,
) -> WindowCounters:
    """The window counters for rate limits and budgets, beside the store `uri` names.

    MongoDB: `MongoCounters` with a client of its own (always shared, exact across
    instances). Otherwise `SqliteCounters` in `data_dir/limits.db` when the counters are
    `shared` by several processes on this host, else `LocalCounters` (in memory, exact for
    this process only). `server_selection_timeout` as for `open_store`. Nothing connects
    here: the caller awaits `open()`, then `aclose()`.
    """
    if uri and uri.startswith(MONGO_SCHEMES):
        # Imported here so that the embedded (SQLite) set-up never pays for importing pymongo.
        from pymongo import AsyncMongoClient

        from core.store.mongo_client import client_options
        from core.store.mongo_counters import MongoCounters

        # The async client connects on its first operation, inside `open()`.
        options = client_options(uri, server_selection_timeout)
        client = AsyncMongoClient[dict[str, Any]](uri, **options)
        return MongoCounters(client[database], owns_client=True)
    if shared:
        return SqliteCounters(data_dir / COUNTERS_FILE)
    return LocalCounters()
