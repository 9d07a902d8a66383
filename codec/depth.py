"""How deeply a JSON document may nest, checked before it becomes protobuf.

protobuf (upb) refuses to decode a message nested more than 100 levels deep, and free-form
JSON travels in `google.protobuf.Struct`, where one JSON object costs three of those levels
(Struct, its map entry, Value) and one array two (ListValue, Value). A typed part of a request
costs fewer (`messages[0]` is two JSON levels and one message), and the request message that
wraps the document adds one. So a document of at most 32 levels needs at most
3 * 32 + 1 = 97 levels and core can always decode it; 40 could need 121. The worst case is
a chat body's top-level extras (`{"model", "messages", "x": {...}}`), which decode up to 33
levels today; tests/codec/test_depth.py builds the worst case of each request at 32.

A deeper document is a CodecError (400) naming where it is too deep. The walk is a loop, not
recursion, so the 1,024 levels orjson parses cannot exhaust Python's stack.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from codec.errors import CodecError

__all__ = ["MAX_JSON_DEPTH", "check_depth", "too_deep"]

MAX_JSON_DEPTH = 32
"""Levels of objects and arrays a request body may nest; the body itself is level 1."""

_SHOWN_KEYS = 4  # the head of a deep path says which field it is; the rest is noise


def check_depth(document: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """CodecError when a parsed JSON `document` nests objects and arrays more than `limit`
    levels deep (the document itself is level 1)."""
    # On every request: no paths kept, only containers pushed, each with its own level; a
    # second walk, on failure only, finds where. The document is a child of a level-0 root.
    stack: list[tuple[Iterable[Any], int]] = [((document,), 0)]
    while stack:
        children, depth = stack.pop()
        for child in children:
            if isinstance(child, dict):
                if depth >= limit:
                    raise too_deep(_path_past(document, limit), limit)
                stack.append((child.values(), depth + 1))
            elif isinstance(child, list):
                if depth >= limit:
                    raise too_deep(_path_past(document, limit), limit)
                stack.append((child, depth + 1))


def too_deep(param: str | None, limit: int = MAX_JSON_DEPTH) -> CodecError:
    """The error for a document nested more than `limit` levels deep at `param`."""
    where = f"`{param}` is" if param else "The request body is"
    return CodecError(
        f"{where} nested too deeply: a request body may nest objects and arrays at most "
        f"{limit} levels deep (the body itself is level 1)",
        param,
    )


def _path_past(document: Any, limit: int) -> str | None:
    """The path of a container deeper than `limit`, cut to its first keys."""
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(document, 1, ())]
    while stack:
        value, depth, path = stack.pop()  # a container at `depth`
        if depth > limit:
            return _join(path)
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1, (*path, key)[:_SHOWN_KEYS]))
    return None  # pragma: no cover - only called once check_depth found one


def _join(path: tuple[str | int, ...]) -> str | None:
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out or None
