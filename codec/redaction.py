"""The shape of a gateway secret, and its redaction from any text echoed back to a caller.

Gateway keys are `gw-` + URL-safe base64 (`core/identity/keys.py` makes them; a generated admin
key is `gw-admin-` + the same). Errors quote caller input (ids, model names, JSON keys, paths)
and a caller sometimes pastes a key into the wrong place: whatever echoes input passes the text
through `redact_secrets` first. Core (gRPC errors) and the facade (HTTP errors) both need the
rule, so it lives here, in the one layer both may import.
"""

from __future__ import annotations

import re

__all__ = ["REDACTED", "SECRET_PREFIX", "SECRET_SHAPE", "redact_secrets"]

SECRET_PREFIX = "gw-"
"""Every key the gateway issues starts with this."""

SECRET_SHAPE = re.compile(r"gw-[A-Za-z0-9_-]{8,}")
"""Anything that could be a gateway key, embedded anywhere in a text. Generous on purpose: a
false positive costs a less helpful message, a false negative a leaked key. Short enough to
catch a hand-made admin key such as `gw-admin-change-me`, long enough to spare a key's
printable prefix (`gw-` + 7 characters, shown in key listings)."""

REDACTED = "[redacted key]"


def redact_secrets(text: str) -> str:
    """`text` with every secret-shaped run replaced by `[redacted key]`."""
    if SECRET_PREFIX not in text:  # the common case: no regex work at all
        return text
    return SECRET_SHAPE.sub(REDACTED, text)
