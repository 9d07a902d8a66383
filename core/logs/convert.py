"""LogRecord (core's record of a call) <-> LogEntry (its wire form), and checks on given entries.

Times travel as Timestamp/Duration and bodies as the JSON text they were logged as; a record
survives the round trip (latencies to the nanosecond, bodies byte for byte).
"""

from __future__ import annotations

import math

import orjson
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from codec import struct_to_dict
from core.errors import InvalidRequest
from core.inbound import check_api_name
from core.metadata import check_metadata
from core.store.base import Attempt, LogRecord
from core.usage.totals import MAX_COST, MAX_TOKENS
from gateway.v1 import chat_pb2, log_pb2

MAX_ID_CHARS = 128
MAX_CLOCK_SKEW_MS = 86_400_000  # a logged call may claim a time at most a day ahead

_STATUS_TO_PROTO = {"success": log_pb2.LOG_STATUS_SUCCESS, "error": log_pb2.LOG_STATUS_ERROR}


def record_to_entry(record: LogRecord) -> log_pb2.LogEntry:
    """The wire form of a stored record."""
    entry = log_pb2.LogEntry(
        id=record.id,
        create_time=timestamp_from_ms(record.created_at),
        model=record.model,
        resolved_model=record.resolved_model,
        provider_account=record.provider_account,
        attempts=[
            log_pb2.Attempt(
                model=a.model,
                http_status=a.http_status,
                error_reason=a.error_code,
                latency=duration_from_ms(a.latency_ms),
                input_tokens=a.input_tokens,
                output_tokens=a.output_tokens,
                cost=a.cost,
            )
            for a in record.attempts
        ],
        subject=record.subject,
        key_id=record.key_id,
        metadata=record.metadata,
        stream=record.stream,
        api=record.api,
        status=_STATUS_TO_PROTO.get(record.status, log_pb2.LOG_STATUS_UNSPECIFIED),
        error_reason=record.error_code,
        error_message=record.error_message,
        usage=chat_pb2.Usage(
            input_tokens=record.input_tokens,
            output_tokens=record.output_tokens,
            total_tokens=record.total_tokens,
        ),
        cost=record.cost,
        latency=duration_from_ms(record.latency_ms),
        teams=record.teams,
        http_status=record.http_status,
    )
    if record.ttft_ms is not None:
        entry.time_to_first_token.CopyFrom(duration_from_ms(record.ttft_ms))
    if record.upstream_ms is not None:
        entry.upstream_latency.CopyFrom(duration_from_ms(record.upstream_ms))
    if record.request_body is not None:
        entry.request_json = record.request_body
    if record.response_body is not None:
        entry.response_json = record.response_body
    return entry


def entry_to_record(entry: log_pb2.LogEntry) -> LogRecord:
    """The record of a wire entry, as given (see `check_entry` for what a caller may send)."""
    status = "error" if entry.status == log_pb2.LOG_STATUS_ERROR else "success"
    return LogRecord(
        id=entry.id,
        created_at=ms_from_timestamp(entry.create_time),
        model=entry.model,
        resolved_model=entry.resolved_model,
        provider_account=entry.provider_account,
        subject=entry.subject,
        key_id=entry.key_id,
        status=status,
        http_status=entry.http_status,
        stream=entry.stream,
        api=entry.api,
        latency_ms=ms_from_duration(entry.latency),
        teams=tuple(entry.teams),
        metadata=dict(entry.metadata),
        attempts=tuple(
            Attempt(
                model=a.model,
                http_status=a.http_status,
                error_code=a.error_reason,
                latency_ms=ms_from_duration(a.latency),
                input_tokens=a.input_tokens,
                output_tokens=a.output_tokens,
                cost=a.cost,
            )
            for a in entry.attempts
        ),
        error_code=entry.error_reason,
        error_message=entry.error_message,
        input_tokens=entry.usage.input_tokens,
        output_tokens=entry.usage.output_tokens,
        total_tokens=entry.usage.total_tokens,
        cost=entry.cost,
        ttft_ms=(
            ms_from_duration(entry.time_to_first_token)
            if entry.HasField("time_to_first_token")
            else None
        ),
        upstream_ms=(
            ms_from_duration(entry.upstream_latency) if entry.HasField("upstream_latency") else None
        ),
        request_body=_body_json(entry.request_json, entry, "request_body"),
        response_body=_body_json(entry.response_json, entry, "response_body"),
    )


def _body_json(text: str, entry: log_pb2.LogEntry, deprecated: str) -> str | None:
    """The body's JSON text: given as text, else (older callers) as a Struct, else None."""
    if text:
        return text
    if entry.HasField(deprecated):  # type: ignore[arg-type]  # the two Struct fields
        return orjson.dumps(struct_to_dict(getattr(entry, deprecated))).decode()
    return None


def check_entry(entry: log_pb2.LogEntry, now_ms: int) -> None:
    """InvalidRequest naming the first field of a `LogService.Log` entry that cannot be stored."""
    if len(entry.id) > MAX_ID_CHARS or not entry.id.isprintable():
        raise InvalidRequest(
            f"id must be at most {MAX_ID_CHARS} printable characters", param="log_entry.id"
        )
    if not entry.model:
        raise InvalidRequest("model is required (`account/model`)", param="log_entry.model")
    check_metadata(entry.metadata, param="log_entry.metadata")
    usage = entry.usage
    for name in ("input_tokens", "output_tokens", "total_tokens"):
        if not 0 <= getattr(usage, name) <= MAX_TOKENS:
            raise InvalidRequest(
                f"usage.{name} must be 0 to {MAX_TOKENS}", param=f"log_entry.usage.{name}"
            )
    if not (math.isfinite(entry.cost) and 0 <= entry.cost <= MAX_COST):
        raise InvalidRequest(
            f"cost must be a number of US dollars, 0 to {MAX_COST:g}", param="log_entry.cost"
        )
    if ms_from_timestamp(entry.create_time) > now_ms + MAX_CLOCK_SKEW_MS:
        raise InvalidRequest(
            "create_time is in the future (more than a day ahead)", param="log_entry.create_time"
        )
    for name in ("latency", "time_to_first_token", "upstream_latency"):
        if getattr(entry, name).seconds < 0 or getattr(entry, name).nanos < 0:
            raise InvalidRequest(f"{name} must not be negative", param=f"log_entry.{name}")
    for name in ("request_json", "response_json"):
        text = getattr(entry, name)
        if text:
            try:
                orjson.loads(text)
            except orjson.JSONDecodeError:
                raise InvalidRequest(f"{name} is not JSON", param=f"log_entry.{name}") from None
    if not 0 <= entry.http_status <= 599:
        raise InvalidRequest(
            f"http_status {entry.http_status} is not an HTTP status", param="log_entry.http_status"
        )
    if entry.api:
        check_api_name(entry.api, param="log_entry.api")


def timestamp_from_ms(ms: int) -> Timestamp:
    return Timestamp(seconds=ms // 1000, nanos=(ms % 1000) * 1_000_000)


def ms_from_timestamp(timestamp: Timestamp) -> int:
    return timestamp.seconds * 1000 + timestamp.nanos // 1_000_000


def duration_from_ms(ms: float) -> Duration:
    nanos = round(ms * 1_000_000)
    return Duration(seconds=nanos // 1_000_000_000, nanos=nanos % 1_000_000_000)


def ms_from_duration(duration: Duration) -> float:
    return (duration.seconds * 1_000_000_000 + duration.nanos) / 1_000_000
