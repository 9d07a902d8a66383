"""Which API a call came in through, as its log record tells: the facade names the HTTP API
it translated (`x-gateway-api` call metadata: `chat.completions`, `completions`,
`responses`, `embeddings`, `messages`); a call without it came over gRPC."""

from __future__ import annotations

import re
from collections.abc import Iterable

from core.errors import InvalidRequest

API_KEY = "x-gateway-api"
GRPC = "grpc"
_NAME = re.compile(r"[a-z][a-z0-9._-]{0,63}")


def inbound_api(call_metadata: Iterable[tuple[str, str | bytes]]) -> str:
    """The API named in the call's metadata, else `grpc`; 400 for a name that is not one."""
    for key, value in call_metadata:
        if key == API_KEY:
            return check_api_name(value, param=API_KEY)
    return GRPC


def check_api_name(value: str | bytes, *, param: str) -> str:
    """`value` if it can name an API, else InvalidRequest naming `param`."""
    if isinstance(value, str) and _NAME.fullmatch(value):
        return value
    raise InvalidRequest(
        f"{param} must be 1 to 64 characters of a-z, 0-9, '.', '_' and '-', starting with a letter",
        param=param,
    )
