"""Every Prometheus metric core exports, built against an injected registry (never the global one).

Names follow prometheus.io: one `llm_gateway_` prefix, base units, `_total` on counters, and
only bounded label values (no user, key or request ids).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

NAMESPACE = "llm_gateway"

SPILL_QUEUE_FULL = "queue_full"
SPILL_STORE_UNAVAILABLE = "store_unavailable"


@dataclass(frozen=True, slots=True)
class LogMetrics:
    """The request-log pipeline: queue, journal, store writes."""

    queue_depth: Gauge
    journal_bytes: Gauge
    journal_records: Gauge
    records_written: Counter
    write_failures: Counter
    records_spilled: Counter
    records_replayed: Counter

    def watch(
        self,
        *,
        queue_depth: Callable[[], float],
        journal_bytes: Callable[[], float],
        journal_records: Callable[[], float],
    ) -> None:
        """Gauges read their value at scrape time, so the hot path never updates them."""
        self.queue_depth.set_function(queue_depth)
        self.journal_bytes.set_function(journal_bytes)
        self.journal_records.set_function(journal_records)


@dataclass(frozen=True, slots=True)
class RequestMetrics:
    """Requests, tokens and cost, counted as each log record is built (off the hot path)."""

    requests: Counter
    input_tokens: Counter
    output_tokens: Counter
    cost: Counter

    def observe(
        self,
        *,
        model: str,
        provider: str,
        status: str,
        input_tokens: int,
        output_tokens: int,
        cost: float,
    ) -> None:
        labels = (model or "none", provider or "none", status)
        self.requests.labels(*labels).inc()
        if input_tokens:
            self.input_tokens.labels(*labels).inc(input_tokens)
        if output_tokens:
            self.output_tokens.labels(*labels).inc(output_tokens)
        if cost:
            self.cost.labels(*labels).inc(cost)


@dataclass(frozen=True, slots=True)
class CoreMetrics:
    """All of core's metrics, registered once on `registry`."""

    registry: CollectorRegistry
    logs: LogMetrics
    requests: RequestMetrics


def build_metrics(registry: CollectorRegistry) -> CoreMetrics:
    """Creates and registers every metric on `registry` (a fresh CollectorRegistry per test)."""

    def gauge(name: str, doc: str) -> Gauge:
        return Gauge(name, doc, namespace=NAMESPACE, registry=registry)

    def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(name, doc, labels, namespace=NAMESPACE, registry=registry)

    logs = LogMetrics(
        queue_depth=gauge("log_queue_depth", "Log records waiting in memory for the writer."),
        journal_bytes=gauge("log_journal_bytes", "Size of the on-disk log journal in bytes."),
        journal_records=gauge(
            "log_journal_records", "Log records in the on-disk journal, not yet stored."
        ),
        records_written=counter("log_records_written", "Log records acknowledged by the store."),
        write_failures=counter("log_write_failures", "Store writes of log records that failed."),
        records_spilled=counter(
            "log_records_spilled",
            "Log records appended to the journal instead of the store.",
            ("reason",),
        ),
        records_replayed=counter(
            "log_records_replayed", "Log records replayed from the journal into the store."
        ),
    )
    labels = ("model", "provider", "status")
    requests = RequestMetrics(
        requests=counter("requests", "LLM requests, by resolved model.", labels),
        input_tokens=counter("input_tokens", "Input (prompt) tokens.", labels),
        output_tokens=counter("output_tokens", "Output (completion) tokens.", labels),
        cost=counter("cost_dollars", "Cost from the configured prices, in US dollars.", labels),
    )
    return CoreMetrics(registry=registry, logs=logs, requests=requests)
