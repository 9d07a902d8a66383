"""The console's static files: which request path names which file, and how it is answered.

A request path never reaches the filesystem as given: each segment must look like one of our
file names (letters, digits, `-`, `_`, `.`, never leading with a dot, so no `..` and no hidden
file), the suffix must be one we serve, and the resolved file must still lie under the static
folder. Anything else is simply not a console file (404).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CONTENT_TYPES", "SECURITY_HEADERS", "STATIC_ROOT", "Asset", "find_asset", "read_asset"]

STATIC_ROOT = Path(__file__).parent / "static"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    # The files have no fingerprint in their names (plain ES modules import each other by
    # name), so a browser must ask again every time; the ETag makes that a 304.
    "cache-control": "no-cache",
}

_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}")
_MAX_DEPTH = 4


@dataclass(frozen=True, slots=True)
class Asset:
    """A console file's content, type and validator."""

    body: bytes
    content_type: str
    etag: str


def find_asset(relative: str, root: Path = STATIC_ROOT) -> Path | None:
    """The file `relative` (a URL path below the static folder) names, or None."""
    segments = relative.split("/")
    if not 0 < len(segments) <= _MAX_DEPTH:
        return None
    if not all(_SEGMENT.fullmatch(segment) for segment in segments):
        return None
    path = root.joinpath(*segments)
    if path.suffix not in CONTENT_TYPES:
        return None
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()) or not resolved.is_file():
        return None  # a symlink out of the folder, a directory, a missing file
    return resolved


def read_asset(path: Path) -> Asset:
    """The file's bytes, content type and a strong ETag of its content."""
    body = path.read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:32]
    return Asset(body, CONTENT_TYPES[path.suffix], f'"{digest}"')
