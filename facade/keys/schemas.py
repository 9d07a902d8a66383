"""The key API's request body, for the OpenAPI document only (`translate.parse_create` reads it)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CreateKeyRequest"]

# The forms core/identity/rules.py accepts (after trimming spaces).
_NAME = "[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_SUBJECT = f"^(user:[^@\\s:]+@[^@\\s.]+(\\.[^@\\s.]+)+|virtualaccount:{_NAME})$"
_Team = Annotated[str, Field(pattern=f"^(team:)?{_NAME}$")]


class CreateKeyRequest(BaseModel):
    """`POST /api/svc/v1/keys`: who the new key is for and what it may use."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(
        pattern=_SUBJECT, max_length=320, description="`user:<email>` or `virtualaccount:<name>`."
    )
    teams: list[_Team] | None = Field(
        None,
        max_length=100,
        description="Teams (`team:<name>` or a bare name) the subject belongs to; at most 100 "
        "with `admin_teams`.",
    )
    admin_teams: list[_Team] | None = Field(
        None, max_length=100, description="Teams whose logs and metrics the key may read."
    )
    models: list[str] | None = Field(
        None,
        max_length=100,
        description="Configured models (`<account>/<model>`) the key may use; none means all.",
    )
    expires_at: int | None = Field(
        None,
        ge=0,
        le=253_402_300_799_999,
        description="Epoch milliseconds, in the future, when the key stops working; null: never.",
    )
