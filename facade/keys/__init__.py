"""API key management over HTTP: `/api/svc/v1/keys` (admin key only, enforced by core)."""

from facade.keys.routes import attach_keys

__all__ = ["attach_keys"]
