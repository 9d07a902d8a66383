"""How the MongoDB clients are made and closed, so that an unreachable server holds nothing long.

PyMongo waits 30 s by default for a reachable server, in every operation and in `close()`:
a down MongoDB then held a request's key lookup, each log insert and the exit that long.
Our clients wait the configured server-selection timeout instead (a `serverSelectionTimeoutMS`
in the URI wins), and closing waits at most CLOSE_SECONDS.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pymongo
from pymongo import AsyncMongoClient

SELECTION_TIMEOUT_OPTION = "serverSelectionTimeoutMS"
# Closing sends endSessions, a courtesy (the server expires idle sessions itself) that first
# waits for a server: unbounded, a down one holds the exit for the whole selection timeout.
CLOSE_SECONDS = 1.0


def client_options(uri: str, server_selection_timeout: float | None) -> dict[str, Any]:
    """AsyncMongoClient keywords: the server-selection timeout, unless the URI sets its own
    (a keyword would override the URI's, and the user's URI must win)."""
    if server_selection_timeout is None or _uri_sets(uri, SELECTION_TIMEOUT_OPTION):
        return {}
    return {SELECTION_TIMEOUT_OPTION: max(1, round(server_selection_timeout * 1000))}


async def close_client(client: AsyncMongoClient[dict[str, Any]]) -> None:
    """Closes the client, waiting at most CLOSE_SECONDS for an unreachable server."""
    # pymongo's client-side operation timeout also bounds the server selection in close().
    with pymongo.timeout(CLOSE_SECONDS):
        await client.close()


def _uri_sets(uri: str, option: str) -> bool:
    # Options are separated by "&" (or ";", which the URI spec also allows); names are
    # case-insensitive.
    query = urlsplit(uri).query
    names = (item.partition("=")[0] for part in query.split("&") for item in part.split(";"))
    return any(name.lower() == option.lower() for name in names)
