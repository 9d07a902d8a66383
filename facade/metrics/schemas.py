"""The metrics API's request body, for the OpenAPI document only (`translate` reads it)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from facade.logs.schemas import LogFilter, field_name

__all__ = ["GROUP_FIELDS", "MetricsQueryRequest"]

_Ms = Annotated[int, Field(ge=0, le=253_370_678_400_000)]  # 1970 to 9998 (core/usage/query.py)
GROUP_FIELDS = (
    "model", "resolved_model", "provider_account", "user", "key_id", "status", "http_status",
    "error_code", "stream", "team",
)  # fmt: skip
"""What `group_by` names, besides `metadata.<key>` (core/usage/dimensions.py checks)."""

_Group = Annotated[str, WithJsonSchema(field_name(GROUP_FIELDS))]


class MetricsQueryRequest(BaseModel):
    """`POST /api/svc/v1/llm-gateway/metrics/query`: figures of the calls in a period."""

    model_config = ConfigDict(extra="forbid")

    start_time: _Ms = Field(description="Epoch ms, inclusive.")
    end_time: _Ms | None = Field(
        None, description="Epoch ms, exclusive, after `start_time`; default: now."
    )
    filter: LogFilter | None = None
    group_by: list[_Group] | None = Field(
        None,
        max_length=4,
        json_schema_extra={"uniqueItems": True},
        description="At most 4 fields, each named once.",
    )
    interval: Literal["minute", "hour", "day", "week", "month", "auto"] | None = Field(
        None, description="Time buckets; null: one row per group for the whole period."
    )
    limit: int | None = Field(None, ge=1, le=1000, description="Most groups returned.")
    percentiles: bool | None = Field(
        None, description="false: skip latency, TTFT and overhead percentiles."
    )
