"""Who may do what: the access rules core enforces for HTTP and gRPC callers alike."""

from __future__ import annotations

from core.auth import Principal
from core.errors import ModelNotAllowed, PermissionDenied
from core.store.base import LogScope


def ensure_model_allowed(principal: Principal, model_id: str) -> None:
    """Raises ModelNotAllowed (403) when the key's allow-list does not admit `model_id`."""
    if principal.models and model_id not in principal.models:
        raise ModelNotAllowed(
            f"this API key may not call {model_id!r}; allowed: {', '.join(principal.models)}",
            param="model",
        )


def ensure_admin(principal: Principal) -> None:
    """Raises PermissionDenied (403) unless the caller holds the admin key."""
    if not principal.is_admin:
        raise PermissionDenied("this operation needs the admin key")


def log_scope(principal: Principal) -> LogScope | None:
    """Records a caller may read: all for the admin; else its own and its admin teams'."""
    if principal.is_admin:
        return None
    return LogScope(subjects=(principal.subject,), teams=principal.admin_teams)
