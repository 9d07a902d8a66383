"""Chooses the store adapter from the configured URI."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.store.base import Store
from core.store.sqlite import SqliteStore
from core.usage.rollup import Rollups

MONGO_SCHEMES = ("mongodb://", "mongodb+srv://")
SQLITE_FILE = "gateway.db"


def open_store(
    *,
    uri: str | None,
    data_dir: Path,
    metadata_index_keys: Sequence[str] = (),
    rollups: Rollups | None = None,
) -> Store:
    """A MongoStore for a `mongodb://` / `mongodb+srv://` URI, else SQLite in `data_dir`.

    Nothing connects here: the caller awaits `open()` inside its event loop.
    """
    if uri and uri.startswith(MONGO_SCHEMES):
        # Imported here so that the embedded (SQLite) set-up never pays for importing pymongo.
        from core.store.mongo import MongoStore

        return MongoStore(uri, metadata_index_keys=metadata_index_keys, rollups=rollups)
    return SqliteStore(data_dir / SQLITE_FILE, rollups=rollups)
