"""The varied request-log records and API keys the log API tests query."""

from __future__ import annotations

from typing import Any

import orjson

from core.auth import key_digest
from core.store.base import ApiKeyRecord, Attempt, LogRecord

# The seed's window: created_at GTE 1731566757568 and LT 1731577557568 (three hours).
SEED_FROM = 1731566757568
SEED_TO = 1731577557568
MINUTE = 60_000

ADMIN_KEY = "logapi-admin-key"

# secret -> key. Carol administers team:blue, so she also sees its members' records.
KEYS: dict[str, ApiKeyRecord] = {
    secret: ApiKeyRecord(
        id=f"key-{name}",
        digest=key_digest(secret),
        prefix=secret[:6],
        subject=f"user:{name}@example.com",
        created_at=SEED_FROM,
        teams=teams,
        admin_teams=admin_teams,
    )
    for secret, name, teams, admin_teams in (
        ("sk-alice", "alice", ("team:red",), ()),
        ("sk-bob", "bob", ("team:red", "team:blue"), ()),
        ("sk-carol", "carol", ("team:blue",), ("team:blue",)),
        ("sk-dave", "dave", (), ()),
    )
}
ALICE, BOB, CAROL, DAVE = KEYS
_MODELS = (
    "openai-main/gpt-4o",
    "openai-main/gpt-4o-mini",
    "anthropic-main/claude-3-5-sonnet",
    "mock-main/echo",
)
_ERRORS = ((429, "rate_limited", "Too many requests"), (502, "upstream_error", "Bad gateway"))


def _record(i: int) -> LogRecord:
    key = KEYS[list(KEYS)[i % 4]]
    model = _MODELS[i % 4]
    failed = i % 5 == 3
    http_status, error_code, error_message = _ERRORS[i % 2] if failed else (200, "", "")
    resolved = "" if failed and i % 2 == 0 else model
    if i % 7 == 0:  # a fallback: another model answered
        resolved = "azure-east/gpt-4o"
    stream = i % 2 == 0
    metadata: dict[str, str] = {}
    if i % 9 != 0:
        metadata = {
            "customer_id": str(100 + i % 6),
            "environment": ("staging", "production", "dev")[i % 3],
        }
        if i % 4 == 0:
            metadata["application"] = "Booking-Bot" if i % 8 == 0 else "booking-bot"
    body: dict[str, Any] | None = {
        "model": model,
        "messages": [{"role": "user", "content": f"question {i}"}],
    }
    answer: dict[str, Any] | None = {
        "id": f"chatcmpl-{i}",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": f"answer {i}"}}],
    }
    if i % 6 == 5:  # tfy_log_request: "false"
        body = answer = None
    input_tokens, output_tokens = 10 + 3 * i, 5 + (7 * i) % 40
    return LogRecord(
        id=f"req-{i:03d}",
        created_at=SEED_FROM - 2 * 60 * MINUTE + i * 6 * MINUTE,
        model=model,
        resolved_model=resolved,
        provider_account=resolved.split("/")[0],
        subject=key.subject,
        key_id=key.id,
        status="error" if failed else "success",
        http_status=http_status,
        stream=stream,
        latency_ms=50.0 + 12.5 * i,
        teams=key.teams,
        metadata=metadata,
        attempts=(Attempt(resolved or model, http_status, error_code, 40.0 + i),),
        error_code=error_code,
        error_message=error_message,
        input_tokens=0 if failed else input_tokens,
        output_tokens=0 if failed else output_tokens,
        total_tokens=0 if failed else input_tokens + output_tokens,
        cost=0.0 if failed else 0.125 * i,
        ttft_ms=5.0 + i if stream and not failed else None,
        upstream_ms=40.0 + i if resolved else None,
        request_body=None if body is None else orjson.dumps(body).decode(),
        response_body=None if failed or answer is None else orjson.dumps(answer).decode(),
    )


# 60 records, 6 minutes apart, from two hours before the seed's window to an hour past it.
RECORDS: tuple[LogRecord, ...] = tuple(_record(i) for i in range(60))
BY_ID = {r.id: r for r in RECORDS}
