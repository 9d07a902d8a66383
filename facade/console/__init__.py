"""The web console: static pages served by the facade, calling only the public HTTP APIs.

`GET /` answers the console's `index.html`; `GET /console/<path>` its scripts, styles and
images. Neither needs a key (the page asks for one and keeps it in the browser's session
storage) and neither is in the OpenAPI document: they are files, not API operations. Every
answer, a 404 included, carries a strict Content-Security-Policy (scripts, styles and
connections from this origin only, nothing inline), so a log body shown by a page can never
run as code even if a page slipped and built HTML from it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request, Response

from facade.console.assets import SECURITY_HEADERS, STATIC_ROOT, Asset, find_asset, read_asset
from facade.errors import error_response
from facade.plain_routes import PlainRoute

__all__ = ["attach_console"]

ASSET_PREFIX = "/console/"


class ConsoleFiles:
    """Answers console files, each read once and again only when it changes on disk."""

    def __init__(self, root: Path = STATIC_ROOT) -> None:
        self._root = root
        self._cache: dict[Path, tuple[tuple[int, int], Asset]] = {}

    async def index(self, request: Request) -> Response:
        return self._answer(request, self._root / "index.html")

    async def asset(self, request: Request) -> Response:
        path = find_asset(request.path_params["path"], self._root)
        if path is None:
            return error_response(
                404,
                f"Unknown request URL: {request.method} {request.url.path}.",
                code="not_found",
                headers=SECURITY_HEADERS,
            )
        return self._answer(request, path)

    def _answer(self, request: Request, path: Path) -> Response:
        asset = self._load(path)
        headers = {**SECURITY_HEADERS, "etag": asset.etag}
        if asset.etag in _etags(request.headers.get("if-none-match")):
            return Response(status_code=304, headers=headers)
        return Response(asset.body, headers=headers, media_type=asset.content_type)

    def _load(self, path: Path) -> Asset:
        # A few small files: reading them on the loop costs less than a thread hop, and the
        # stat keeps an edited file (development) from being served stale.
        stat = path.stat()
        version = (stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == version:
            return cached[1]
        asset = read_asset(path)
        self._cache[path] = (version, asset)
        return asset


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


def attach_console(app: FastAPI) -> None:
    """Serves the console on `app`: `/` and `/console/{path}`, GET and HEAD, no key."""
    files = ConsoleFiles()
    # Plain Starlette routes: outside the OpenAPI document, labelled by template in metrics.
    app.router.routes.append(PlainRoute("/", files.index, methods=["GET"]))
    app.router.routes.append(PlainRoute(ASSET_PREFIX + "{path:path}", files.asset, methods=["GET"]))
