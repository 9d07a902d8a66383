"""GATEWAY_REQUEST_LOGGING=false: no record is kept, Prometheus still counts every call."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from core.auth import Principal
from core.config.loader import parse_config
from core.config.settings import Settings
from core.logs import build_request_logs
from core.metrics import RequestLabels, build_metrics
from core.recording import CallContext
from core.store.base import LogQuery
from core.store.sqlite import SqliteStore
from gateway.v1 import chat_pb2


def context(request_id: str) -> CallContext:
    principal = Principal("user:alice@example.com", "key-1")
    return CallContext(request_id, request_id, principal, {}, False, 0, 0)


async def test_with_logging_off_calls_are_counted_but_not_stored(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "gateway.db")
    await store.open()
    registry = CollectorRegistry()
    metrics = build_metrics(registry, RequestLabels.from_config(None))
    settings = Settings(data_dir=tmp_path, request_logging=False)
    logs = build_request_logs(store, parse_config(""), settings, metrics)
    logs.start()
    params = chat_pb2.ChatParams(model="mock-main/echo")
    for i in range(3):
        logs.recorder.chat(context(f"req-{i}"), params).finish()
    await logs.stop()
    page = await store.query_logs(LogQuery())
    await store.close()
    assert list(page.records) == []
    counted = sum(
        sample.value
        for family in registry.collect()
        if family.name == "llm_gateway_requests"
        for sample in family.samples
        if sample.name.endswith("_total")
    )
    assert counted == 3
