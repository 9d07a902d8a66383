"""A whole gateway (core, facade over ASGI, the OpenAI SDK) on a given config, whose calls'
log records a test can read as soon as each call returned."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai

from core.config.loader import parse_config
from core.logs.pipeline import Deferred
from core.logs.trace import LogRecorder
from core.metrics import RouterMetrics
from core.router.counters import WindowCounters
from core.server import Core, build_core
from core.store.base import LogRecord
from core.store.sqlite import SqliteStore
from facade.app import create_app
from facade.settings import FacadeSettings
from tests.transport import core_client

ADMIN_KEY = "router-admin-key"
ALICE_KEY = "key1"  # sha256("key1") below
ALICE_DIGEST = "8174099687a26621f4e2cdd7cc03b3dacedb3fb962255b1aafd033cabe831530"
BOB_KEY = "key2"
BOB_DIGEST = "b10253764c8b233fb37542e23401c7b450e5a6f9751f3b5a014f6f67e8bc999d"

ACCOUNTS = f"""
name: mock-a
type: provider-account
provider: mock
timeout_seconds: 0.2
models:
  - name: echo
    price: {{input_per_million: 1000, output_per_million: 2000}}
  - {{name: embed, kind: embedding}}
---
name: mock-b
type: provider-account
provider: mock
timeout_seconds: 0.2
models:
  - name: echo
    price: {{input_per_million: 1000, output_per_million: 2000}}
  - {{name: embed, kind: embedding}}
---
name: mock-c
type: provider-account
provider: mock
mock: {{chunk_delay_ms: 20}}
models:
  - {{name: echo}}
---
name: keys
type: gateway-api-keys
keys:
  - {{id: key-alice, subject: "user:alice@example.com", sha256: {ALICE_DIGEST}}}
  - {{id: key-bob, subject: "user:bob@example.com", sha256: {BOB_DIGEST}}}
"""

MESSAGES = [{"role": "user", "content": "hello there"}]


@dataclass
class Gateway:
    core: Core
    http: httpx.AsyncClient
    openai: openai.AsyncOpenAI
    target: str
    _calls: list[Deferred]

    def records(self) -> list[LogRecord]:
        """The log record of every call so far, in the order they finished."""
        return [call.build() for call in self._calls]

    def last(self) -> LogRecord:
        return self.records()[-1]

    def as_key(self, key: str) -> openai.AsyncOpenAI:
        return self.openai.with_options(api_key=key)


@asynccontextmanager
async def gateway(
    policies: str = "",
    *,
    data_dir: Path,
    counters: WindowCounters | None = None,
    config_path: Path | None = None,
    router_metrics: RouterMetrics | None = None,
) -> AsyncIterator[Gateway]:
    """Serves ACCOUNTS plus `policies` (YAML documents) until exit."""
    text = ACCOUNTS + ("---\n" + policies if policies.strip() else "")
    if config_path is not None:
        await asyncio.to_thread(config_path.write_text, text, encoding="utf-8")
    store = SqliteStore(data_dir / "gateway.db")
    await store.open()
    calls: list[Deferred] = []
    core = build_core(
        parse_config(text),
        admin_key=ADMIN_KEY,
        address="127.0.0.1:0",
        store=store,
        recorder=LogRecorder(calls.append),
        counters=counters,
        router_metrics=router_metrics,
        config_path=config_path,
        reload_poll_seconds=3600,  # tests reload explicitly, never on a timer
    )
    await core.start()
    target = f"127.0.0.1:{core.port}"
    app = create_app(FacadeSettings(), core_client(core))
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app), base_url="http://gateway.test"
            ) as http,
        ):
            client = openai.AsyncOpenAI(
                api_key=ADMIN_KEY,
                base_url="http://gateway.test/v1",
                http_client=http,
                max_retries=0,
            )
            yield Gateway(core, http, client, target, calls)
    finally:
        await core.stop(grace=1)
        await store.close()
