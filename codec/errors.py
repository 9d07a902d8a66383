"""The one error the codec raises: a client (or provider) sent JSON it cannot translate."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")


class CodecError(ValueError):
    """JSON that doesn't fit the gateway.v1 protos; `param` is its JSON path (`messages[2].role`).

    The facade turns it into OpenAI's 400 `invalid_request_error` envelope with the same `param`.
    """

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    def __repr__(self) -> str:
        return f"CodecError({self.message!r}, param={self.param!r})"


def rejects_surrogates(parse: Callable[_P, _R]) -> Callable[_P, _R]:
    """Report strings protobuf can't store (lone surrogates) as CodecError.

    Python's json module lets `"\\ud800"` through and protobuf then raises UnicodeEncodeError
    on assignment; catching it once per call costs nothing on the happy path.
    """

    @functools.wraps(parse)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return parse(*args, **kwargs)
        except UnicodeEncodeError as exc:
            raise CodecError("strings must be valid UTF-8 (no lone surrogates)") from exc

    return wrapper
