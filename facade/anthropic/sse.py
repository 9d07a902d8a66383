"""Server-sent events framed as Anthropic frames them: `event: <name>` then `data: <json>`."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["event"]


def event(name: str, payload: Any) -> bytes:
    """One named SSE event holding `payload` as compact JSON."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"
