"""The log API's request body, for the OpenAPI document only (`translate` reads it).

`LogFilter` is also the metrics API's `filter` (facade/filters.py parses both).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

__all__ = ["FILTER_FIELDS", "LogFilter", "LogQueryRequest", "field_name"]

FILTER_FIELDS = (
    "id", "created_at", "model", "resolved_model", "provider_account", "user", "key_id", "team",
    "status", "http_status", "error_code", "stream", "api", "input_tokens", "output_tokens",
    "total_tokens", "cost", "latency_ms", "ttft_ms",
)  # fmt: skip
"""The fields a filter or sort names, besides `metadata.<key>` (core/store/base.py checks)."""

Operator = Literal["EQ", "NEQ", "LT", "LTE", "GT", "GTE", "IN", "NOT_IN", "CONTAINS"]


def field_name(fields: tuple[str, ...]) -> dict[str, Any]:
    """The JSON Schema of a field name: one of `fields` or `metadata.<key>`."""
    metadata = {"type": "string", "pattern": "^metadata\\..", "maxLength": 137}
    return {"anyOf": [{"enum": list(fields)}, metadata]}


_FIELD_NAME = field_name(FILTER_FIELDS)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class Condition(BaseModel):
    """One condition on the field it is listed under."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(
        None,  # type: ignore[assignment]  # absent means the field; null is refused
        description="The field again, if given (the seeds do).",
        json_schema_extra=_no_default,
    )
    value: Any = Field(
        description="Of the field's type (`created_at`: epoch ms); a list for IN and NOT_IN.",
        json_schema_extra={"not": {"type": "null"}},
    )
    operator: Operator = Field("EQ", description="Case-insensitive.")


class LogFilter(BaseModel):
    """`{FIELD: [conditions]}`, all ANDed: a field of the log record or `metadata.<key>`."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"propertyNames": _FIELD_NAME})
    __pydantic_extra__: dict[str, list[Condition] | Condition]


class SortKey(BaseModel):
    """A sort key."""

    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, WithJsonSchema(_FIELD_NAME)]
    order: Literal["ASC", "DESC"] = Field("ASC", description="Case-insensitive.")


class LogQueryRequest(BaseModel):
    """`POST /api/svc/v1/llm-gateway/requests`: which request logs, in which order, which page.

    Every part is optional; an empty body lists the newest records."""

    model_config = ConfigDict(extra="forbid")

    filter: LogFilter | None = None
    sort: Annotated[list[SortKey], Field(max_length=5)] | SortKey | None = Field(
        None, description="At most 5 keys; newest first by default."
    )
    limit: int | None = Field(
        None, ge=1, description="Page size: 25 by default, at most 1,000 unless configured."
    )
    offset: int | None = Field(None, ge=0, description="Records to skip.")
