"""Which snippet each (language, library) pair gets, and the 400s for the pairs that have none."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from facade.codegen import (
    curl,
    javascript,
    python_grpc,
    python_langchain,
    python_openai,
    python_requests,
)
from facade.codegen.spec import ChatSpec
from facade.errors import FacadeError

__all__ = ["DEFAULT_LIBRARY", "LANGUAGES", "LIBRARIES", "TARGETS", "Target", "choose_target"]


@dataclass(frozen=True, slots=True)
class Target:
    """A snippet kind: the file name it is saved as and the function writing it."""

    filename: str
    render: Callable[[ChatSpec], str]


LANGUAGES = ("python", "javascript", "typescript", "curl")
LIBRARIES = ("openai", "requests", "langchain", "fetch", "grpc")

TARGETS: dict[tuple[str, str | None], Target] = {
    ("python", "openai"): Target("chat_openai.py", python_openai.render),
    ("python", "requests"): Target("chat_requests.py", python_requests.render),
    ("python", "langchain"): Target("chat_langchain.py", python_langchain.render),
    ("python", "grpc"): Target("chat_grpc.py", python_grpc.render),
    ("javascript", "openai"): Target("chat_openai.mjs", javascript.render_openai),
    ("javascript", "fetch"): Target("chat_fetch.mjs", javascript.render_fetch),
    ("typescript", "openai"): Target(
        "chat_openai.mts", partial(javascript.render_openai, typescript=True)
    ),
    ("typescript", "fetch"): Target(
        "chat_fetch.mts", partial(javascript.render_fetch, typescript=True)
    ),
    ("curl", None): Target("chat.sh", curl.render),
}
"""curl is its own library: its key is `("curl", None)`, and it takes no `library`."""

DEFAULT_LIBRARY: dict[str, str | None] = {
    "python": "openai",
    "javascript": "openai",
    "typescript": "openai",
    "curl": None,
}
"""The library used when the body names none."""


def choose_target(language: Any, library: Any) -> Target:
    """The target for the codegen body's `language` and `library`; FacadeError 400 naming the
    field at fault and listing the values it may take."""
    if language not in LANGUAGES:
        raise _invalid(f"`language` must be one of: {', '.join(LANGUAGES)}.", "language")
    if library is None:
        library = DEFAULT_LIBRARY[language]
    elif library not in LIBRARIES:
        raise _invalid(f"`library` must be one of: {', '.join(LIBRARIES)}.", "library")
    target = TARGETS.get((language, library))
    if target is not None:
        return target
    allowed = [lib for lang, lib in TARGETS if lang == language and lib is not None]
    if not allowed:
        raise _invalid(f"`library` must be omitted for {language}.", "library")
    raise _invalid(
        f"`library` {library!r} is not available for {language}; use one of: {', '.join(allowed)}.",
        "library",
    )


def _invalid(message: str, param: str) -> FacadeError:
    return FacadeError(400, message, code="invalid_request", param=param)
