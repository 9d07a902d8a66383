"""Request logs assembled for one core process: pipeline, recorder, retention."""

from __future__ import annotations

from dataclasses import dataclass

from core.config.loader import GatewayConfig
from core.config.settings import Settings
from core.logs.journal import Journal
from core.logs.pipeline import Deferred, LogPipeline
from core.logs.retention import Retention
from core.logs.trace import LogRecorder
from core.metrics import CoreMetrics
from core.store.base import Store

JOURNAL_DIR = "journal"


@dataclass(frozen=True, slots=True)
class RequestLogs:
    """`start()` inside the running loop; `stop()` after core stopped serving (it drains)."""

    pipeline: LogPipeline
    recorder: LogRecorder
    retention: Retention | None
    drain_seconds: float

    def start(self) -> None:
        self.pipeline.start()
        if self.retention is not None:
            self.retention.start()

    async def stop(self) -> None:
        if self.retention is not None:
            await self.retention.stop()
        await self.pipeline.close(self.drain_seconds)


def build_request_logs(
    store: Store, config: GatewayConfig, settings: Settings, metrics: CoreMetrics
) -> RequestLogs:
    """Opens the journal under the data dir (whatever a previous run left is replayed first)."""
    pipeline = LogPipeline(
        store,
        Journal(settings.data_dir / JOURNAL_DIR),
        metrics.logs,
        queue_size=settings.log_queue_size,
        batch_size=settings.log_batch_size,
        flush_interval=settings.log_flush_interval_seconds,
    )
    retention = None
    if settings.log_retention_days > 0:
        retention = Retention(store, max_age_days=settings.log_retention_days)
    # Logging off: each call's record is still assembled (Prometheus counts it), never kept.
    submit = pipeline.submit if settings.request_logging else _count_only
    return RequestLogs(
        pipeline=pipeline,
        recorder=LogRecorder(submit, metrics.requests),
        retention=retention,
        drain_seconds=settings.log_drain_seconds,
    )


def _count_only(call: Deferred) -> None:
    """GATEWAY_REQUEST_LOGGING=false: building the record observes it; nothing stores it."""
    call.build()
