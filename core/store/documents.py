"""Records <-> MongoDB documents.

A record's id is the document's `_id`. Tuples are stored as arrays and read back as
tuples; bodies are stored as the JSON text they were logged as (a BSON document would turn
`1.0` into a double and refuse integers beyond 64 bits), so a record read back equals the
one written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from core.store.base import ApiKeyRecord, Attempt, LogRecord

Document = dict[str, Any]


def _body(value: Any) -> str | None:
    # Bodies are JSON text; documents written before that hold them as sub-documents.
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def log_document(r: LogRecord) -> Document:
    return {
        "_id": r.id,
        "created_at": r.created_at,
        "model": r.model,
        "resolved_model": r.resolved_model,
        "provider_account": r.provider_account,
        "subject": r.subject,
        "key_id": r.key_id,
        "teams": list(r.teams),
        "status": r.status,
        "http_status": r.http_status,
        "error_code": r.error_code,
        "error_message": r.error_message,
        "stream": r.stream,
        "api": r.api,
        "input_tokens": r.input_tokens,
        "output_tokens": r.output_tokens,
        "total_tokens": r.total_tokens,
        "cost": r.cost,
        "latency_ms": r.latency_ms,
        "ttft_ms": r.ttft_ms,
        "upstream_ms": r.upstream_ms,
        "metadata": dict(r.metadata),
        "attempts": [
            {
                "model": a.model,
                "http_status": a.http_status,
                "error_code": a.error_code,
                "latency_ms": a.latency_ms,
                "input_tokens": a.input_tokens,
                "output_tokens": a.output_tokens,
                "cost": a.cost,
            }
            for a in r.attempts
        ],
        "request_body": r.request_body,
        "response_body": r.response_body,
    }


def log_record(doc: Mapping[str, Any]) -> LogRecord:
    return LogRecord(
        id=doc["_id"],
        created_at=doc["created_at"],
        model=doc["model"],
        resolved_model=doc["resolved_model"],
        provider_account=doc["provider_account"],
        subject=doc["subject"],
        key_id=doc["key_id"],
        status=doc["status"],
        http_status=doc["http_status"],
        stream=doc["stream"],
        api=doc.get("api", ""),
        latency_ms=doc["latency_ms"],
        teams=tuple(doc["teams"]),
        metadata=doc["metadata"],
        attempts=tuple(Attempt(**a) for a in doc["attempts"]),
        error_code=doc["error_code"],
        error_message=doc["error_message"],
        input_tokens=doc["input_tokens"],
        output_tokens=doc["output_tokens"],
        total_tokens=doc["total_tokens"],
        cost=doc["cost"],
        ttft_ms=doc.get("ttft_ms"),
        upstream_ms=doc.get("upstream_ms"),
        request_body=_body(doc.get("request_body")),
        response_body=_body(doc.get("response_body")),
    )


def key_document(k: ApiKeyRecord) -> Document:
    return {
        "_id": k.id,
        "digest": k.digest,
        "prefix": k.prefix,
        "subject": k.subject,
        "created_at": k.created_at,
        "teams": list(k.teams),
        "admin_teams": list(k.admin_teams),
        "models": list(k.models),
        "expires_at": k.expires_at,
        "last_used_at": k.last_used_at,
        "revoked_at": k.revoked_at,
    }


def key_record(doc: Mapping[str, Any]) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=doc["_id"],
        digest=doc["digest"],
        prefix=doc["prefix"],
        subject=doc["subject"],
        created_at=doc["created_at"],
        teams=tuple(doc["teams"]),
        admin_teams=tuple(doc["admin_teams"]),
        models=tuple(doc["models"]),
        expires_at=doc.get("expires_at"),
        last_used_at=doc.get("last_used_at"),
        revoked_at=doc.get("revoked_at"),
    )
