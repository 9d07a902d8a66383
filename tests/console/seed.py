"""The console tests' gateway: a real `llm-gateway serve` process and the traffic it is seeded with.

The traffic covers what the pages show: two models and three callers (the admin and two user
keys), metadata on some calls, errors, a fallback (an attempt chain), a streaming call with a
tool call, a call whose bodies are not logged, and one whose message and metadata try to run
script in the page (it must show as text).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

ADMIN_KEY = "gw-admin-console-tests-0123456789"
ALICE = "user:alice@example.com"
BOB = "user:bob@example.com"

CONFIG = """
name: mock-main
type: provider-account
provider: mock
models:
  - name: echo
    price: {input_per_million: 1.0, output_per_million: 2.0}
  - name: smart
    price: {input_per_million: 3.0, output_per_million: 15.0}
mock: {latency_ms: 2, chunk_delay_ms: 2}
---
name: mock-backup
type: provider-account
provider: mock
models:
  - name: echo
    price: {input_per_million: 0.5, output_per_million: 1.0}
---
name: fallbacks
type: gateway-fallback-config
rules:
  - id: smart-to-backup
    when: {models: [mock-main/smart], response_status_codes: ['503']}
    fallback_models: [{target: mock-backup/echo}]
---
name: metrics
type: gateway-metrics-config
metadata_keys: [customer_id, application]
"""

MODELS = ("mock-main/echo", "mock-main/smart")

XSS_MESSAGE = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
XSS_METADATA = {"application": '<img src=x onerror="window.__xss=3">'}
NOT_LOGGED_METADATA = {"tfy_log_request": "false", "customer_id": "c-3"}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}


@dataclass
class Seeded:
    """What the seeding did: ids (the log id is the answer's `x-request-id`) and counts."""

    total: int = 0
    errors: int = 0
    tool_call_id: str = ""
    not_logged_id: str = ""
    xss_id: str = ""
    fallback_id: str = ""
    ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ConsoleGateway:
    """The running gateway the console tests drive."""

    url: str
    """The HTTP base, e.g. `http://127.0.0.1:43121` (the console is at `url + "/"`)."""
    admin_key: str
    user_key: str
    """A non-admin key (subject `user:alice@example.com`) that made some of the traffic."""
    other_user_key: str
    """A second non-admin key (`user:bob@example.com`)."""
    seeded: Seeded


def create_key(http: httpx.Client, subject: str) -> str:
    """A new key's secret, created with the admin key `http` carries."""
    response = http.post("/api/svc/v1/keys", json={"subject": subject})
    response.raise_for_status()
    secret: str = response.json()["key"]
    return secret


def chat(
    http: httpx.Client,
    key: str,
    seeded: Seeded,
    content: str,
    *,
    model: str = MODELS[0],
    metadata: dict[str, str] | None = None,
    **extra: Any,
) -> str:
    """Makes one chat call (read to its end when streamed); the log id of its record."""
    headers = {"authorization": f"Bearer {key}"}
    if metadata is not None:
        headers["x-tfy-metadata"] = orjson.dumps(metadata).decode()
    body = {"model": model, "messages": [{"role": "user", "content": content}], **extra}
    with http.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response:
        response.read()
    seeded.total += 1
    seeded.errors += response.status_code >= 400
    log_id = response.headers["x-request-id"]
    seeded.ids.append(log_id)
    return log_id


def seed(http: httpx.Client, user_key: str, other_key: str) -> Seeded:
    """Makes the traffic the console tests read back."""
    seeded = Seeded()
    keys = (user_key, other_key)
    for i in range(24):
        metadata = None
        if i % 4 == 0:
            metadata = {"customer_id": "c-1", "application": "booking-bot"}
        elif i % 4 == 1:
            metadata = {"customer_id": "c-2", "application": "support-bot"}
        chat(http, keys[i % 2], seeded, f"hello {i}", model=MODELS[i % 3 == 0], metadata=metadata)
    for i in range(4):
        chat(http, ADMIN_KEY, seeded, f"admin call {i}", model=MODELS[i % 2])
    for status in (400, 429, 500, 503):
        chat(http, keys[status % 2], seeded, "fail", mock={"status": status})
    seeded.fallback_id = chat(
        http,
        user_key,
        seeded,
        "fall back",
        model=MODELS[1],
        mock={"accounts": {"mock-main": {"status": 503}}},
    )
    seeded.tool_call_id = chat(
        http,
        user_key,
        seeded,
        "What is the weather in Paris?",
        metadata={"application": "weather-bot"},
        stream=True,
        stream_options={"include_usage": True},
        tools=[WEATHER_TOOL],
    )
    seeded.not_logged_id = chat(
        http, other_key, seeded, "a secret prompt", metadata=NOT_LOGGED_METADATA
    )
    seeded.xss_id = chat(http, user_key, seeded, XSS_MESSAGE, metadata=XSS_METADATA)
    return seeded


def wait_until_logged(http: httpx.Client, seeded: Seeded, timeout_s: float = 20) -> None:
    """Returns once the log API lists every seeded call (records are written in batches)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = http.post("/api/svc/v1/llm-gateway/requests", json={"limit": 1})
        response.raise_for_status()
        if response.json()["pagination"]["total"] >= seeded.total:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the log API did not list the {seeded.total} seeded calls")
        time.sleep(0.1)  # the writer flushes every GATEWAY_LOG_FLUSH_INTERVAL_SECONDS
