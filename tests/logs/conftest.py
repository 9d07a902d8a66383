"""A logging core (real SqliteStore, pipeline, journal) with the facade and the openai SDK on top."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from prometheus_client import CollectorRegistry

from core.config.loader import parse_config
from core.logs import Journal, LogPipeline, LogRecorder
from core.logs.pipeline import Item
from core.metrics import CoreMetrics, build_metrics
from core.server import build_core
from core.store.base import LogRecord, Store
from core.store.sqlite import SqliteStore
from facade.app import create_app
from facade.settings import FacadeSettings
from gateway.v1 import route_service_pb2_grpc
from tests.transport import core_channel, core_client

ADMIN_KEY = "logs-admin-key"
ADMIN = (("authorization", f"Bearer {ADMIN_KEY}"),)

CONFIG = """
name: mock-main
type: provider-account
provider: mock
timeout_seconds: 5
models:
  - name: echo
    price: {input_per_million: 1.5, output_per_million: 4.0}
  - name: embed
    kind: embedding
    price: {input_per_million: 0.5}
---
name: slow
type: provider-account
provider: mock
mock: {chunk_delay_ms: 200, output_tokens: 50}
models: [{name: stream}]
"""


class Submissions:
    """Wraps the pipeline's submit: counts finished calls, so tests can await them."""

    def __init__(self, submit: Callable[[Item], None]) -> None:
        self._submit = submit
        self.count = 0
        self._changed = asyncio.Event()

    def __call__(self, item: Item) -> None:
        self._submit(item)
        self.count += 1
        self._changed.set()

    async def reach(self, count: int) -> None:
        while self.count < count:
            self._changed.clear()
            await self._changed.wait()


@dataclass
class LoggingCore:
    store: Store
    pipeline: LogPipeline
    metrics: CoreMetrics
    submissions: Submissions
    route: route_service_pb2_grpc.RouteServiceStub
    openai: openai.AsyncOpenAI
    journal_dir: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def sample(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value

    async def records(self) -> dict[str, LogRecord]:
        """Every stored record by id, after the pipeline wrote all it was given."""
        await self.pipeline.flush()
        return await all_records(self.store)


async def all_records(store: Store) -> dict[str, LogRecord]:
    from core.store.base import LogQuery

    page = await store.query_logs(LogQuery(limit=1000))
    assert page.total <= 1000
    assert len({r.id for r in page.records}) == page.total  # no duplicates
    return {request_id_of(r.id): r for r in page.records}


def request_id_of(log_id: str) -> str:
    """The `x-request-id` a test chose: core suffixes such ids so each call gets its own record."""
    match = re.fullmatch(r"(.+)\.[0-9a-f]{8}", log_id)
    return match.group(1) if match else log_id


def make_pipeline(
    store: Store, data_dir: Path, registry: CollectorRegistry | None = None, **options: Any
) -> tuple[LogPipeline, CoreMetrics]:
    metrics = build_metrics(registry or CollectorRegistry())
    options = {"flush_interval": 0.01, "retry_initial": 0.01, "retry_max": 0.05, **options}
    return LogPipeline(store, Journal(data_dir / "journal"), metrics.logs, **options), metrics


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path / "gateway.db")
    await store.open()
    yield store
    await store.close()


async def start_logging_core(
    store: Store, data_dir: Path, **pipeline_options: Any
) -> AsyncIterator[LoggingCore]:
    config = parse_config(CONFIG)
    pipeline, metrics = make_pipeline(store, data_dir, **pipeline_options)
    pipeline.start()
    submissions = Submissions(pipeline.submit)
    recorder = LogRecorder(submissions, metrics.requests)
    core = build_core(
        config,
        admin_key=ADMIN_KEY,
        address="127.0.0.1:0",
        store=store,
        recorder=recorder,
        log_sink=pipeline.submit,
    )
    await core.start()
    app = create_app(FacadeSettings(), core_client(core))
    try:
        async with (
            app.router.lifespan_context(app),
            core_channel(core) as channel,
            httpx.AsyncClient(transport=httpx.ASGITransport(app)) as http,
        ):
            client = openai.AsyncOpenAI(
                api_key=ADMIN_KEY,
                base_url="http://facade.test/api/inference/openai",
                http_client=http,
                max_retries=0,
            )
            yield LoggingCore(
                store=store,
                pipeline=pipeline,
                metrics=metrics,
                submissions=submissions,
                route=route_service_pb2_grpc.RouteServiceStub(channel),
                openai=client,
                journal_dir=data_dir / "journal",
            )
    finally:
        await core.stop(grace=1)
        await pipeline.close(5)


@pytest.fixture
async def logging_core(sqlite_store: SqliteStore, tmp_path: Path) -> AsyncIterator[LoggingCore]:
    async for handle in start_logging_core(sqlite_store, tmp_path):
        yield handle
