"""Settings of the HTTP facade, built once at start-up by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FacadeSettings"]


@dataclass(frozen=True, slots=True)
class FacadeSettings:
    """What the facade needs to know besides the gateway client."""

    max_body_bytes: int = 4 * 1024 * 1024
    """Largest request body accepted; bigger ones get 413 before the body is read in full."""

    request_timeout_seconds: float = 600.0
    """Deadline of each gRPC call to core, streams included."""
