"""Every Prometheus metric core exports, built against an injected registry (never the global one).

Names follow prometheus.io: one `llm_gateway_` prefix, base units (seconds, dollars), `_total`
on counters, and bounded label values: no key or request ids, and every label capped at a
number of distinct values (`LabelValues`), the rest counted under `other`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from core.config.models import DEFAULT_MAX_LABEL_VALUES, DEFAULT_MAX_SERIES, MetricsConfig
from core.store.base import LogRecord

NAMESPACE = "llm_gateway"
BASE_LABELS = ("model", "provider", "status")
NONE = "none"
OTHER = "other"
# Seconds. Whole calls run from milliseconds (cached, small) to minutes (long generations).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# The gateway's own time per call: well under a millisecond when healthy.
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)

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


class LabelValues:
    """Bounds a label's values: the first `limit` distinct ones pass, the rest read `other`.

    So a flood of bogus users or metadata values adds no more than one value per label;
    RequestLabels.max_series bounds how many combinations of the labels are kept.
    """

    __slots__ = ("_limit", "_seen")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) >= self._limit:
            return OTHER
        self._seen.add(value)
        return value


@dataclass(frozen=True, slots=True)
class RequestLabels:
    """The labels of request metrics: model, provider and status always; the caller and
    metadata keys when the config opts in (`gateway-metrics-config` `prometheus`)."""

    user: bool = False
    metadata_keys: tuple[str, ...] = ()
    max_values: int = DEFAULT_MAX_LABEL_VALUES
    max_series: int = DEFAULT_MAX_SERIES
    """Label sets of the request counters, at most (past it, the opt-in labels read
    `other`): per-label caps alone would still allow their product."""

    @classmethod
    def from_config(cls, config: MetricsConfig | None) -> RequestLabels:
        if config is None:
            return cls()
        options = config.prometheus
        return cls(
            options.user_label,
            tuple(options.metadata_labels),
            options.max_label_values,
            options.max_series,
        )

    @property
    def names(self) -> tuple[str, ...]:
        extra = ("user",) if self.user else ()
        return (*BASE_LABELS, *extra, *(f"metadata_{key}" for key in self.metadata_keys))


@dataclass(frozen=True, slots=True)
class RequestMetrics:
    """Requests, tokens, cost and durations, observed as each log record is built (off the
    hot path). Durations are histograms in seconds."""

    labels: RequestLabels
    requests: Counter
    input_tokens: Counter
    output_tokens: Counter
    cost: Counter
    errors: Counter
    latency: Histogram
    upstream: Histogram
    overhead: Histogram
    ttft: Histogram
    bounds: tuple[LabelValues, ...]
    codes: LabelValues

    children: dict[tuple[str, ...], _Children] = field(default_factory=dict, compare=False)
    """Each label set's series, looked up once (prometheus_client's `labels()` is slow)."""

    def observe(self, record: LogRecord) -> None:
        """Counts one finished call."""
        values = [record.resolved_model or NONE, record.provider_account or NONE, record.status]
        if self.labels.user:
            values.append(record.subject or NONE)
        values.extend(record.metadata.get(key, NONE) for key in self.labels.metadata_keys)
        labels = tuple([bound(value) for bound, value in zip(self.bounds, values, strict=True)])
        series = self.children.get(labels)
        if series is None:
            if len(self.children) >= self.labels.max_series:
                # Combinations of capped labels still multiply: past the cap, one series.
                labels = (*labels[:3], *(OTHER for _ in labels[3:]))
                series = self.children.get(labels)
            if series is None:
                series = self.children[labels] = self._children(labels)
        series.requests.inc()
        if record.input_tokens:
            series.input_tokens.inc(record.input_tokens)
        if record.output_tokens:
            series.output_tokens.inc(record.output_tokens)
        if record.cost:
            series.cost.inc(record.cost)
        if record.status != "success":
            code = self.codes(record.error_code or NONE)
            errors = series.errors.get(code)
            if errors is None:
                errors = series.errors[code] = self.errors.labels(*labels[:2], code)
            errors.inc()
        series.latency.observe(record.latency_ms / 1000)
        route = labels[:2]  # durations by model and provider (and status, the whole call)
        overhead = record.overhead_ms
        if record.upstream_ms is not None and overhead is not None:
            if series.upstream is None:  # created when first seen: no empty series
                series.upstream = self.upstream.labels(*route)
                series.overhead = self.overhead.labels(*route)
            assert series.overhead is not None
            series.upstream.observe(record.upstream_ms / 1000)
            series.overhead.observe(overhead / 1000)
        if record.ttft_ms is not None:
            if series.ttft is None:
                series.ttft = self.ttft.labels(*route)
            series.ttft.observe(record.ttft_ms / 1000)

    def _children(self, labels: tuple[str, ...]) -> _Children:
        return _Children(
            requests=self.requests.labels(*labels),
            input_tokens=self.input_tokens.labels(*labels),
            output_tokens=self.output_tokens.labels(*labels),
            cost=self.cost.labels(*labels),
            latency=self.latency.labels(*labels[:3]),
        )


@dataclass(slots=True)
class _Children:
    """The series of one label set (those a call may not have: made on first use)."""

    requests: Counter
    input_tokens: Counter
    output_tokens: Counter
    cost: Counter
    latency: Histogram
    upstream: Histogram | None = None
    overhead: Histogram | None = None
    ttft: Histogram | None = None
    errors: dict[str, Counter] = field(default_factory=dict)  # by error code


MAX_RULE_LABELS = 1000
"""Distinct rule ids labelled in the routing counters; more (over many reloads) read `other`."""


@dataclass(frozen=True, slots=True)
class RouterMetrics:
    """What routing policies did, by rule id (labels bounded: rule ids come from config, and
    `rules` folds any beyond its limit into `other`)."""

    retries: Counter
    fallbacks: Counter
    cooldowns: Counter
    refusals: Counter
    rules: LabelValues

    def retried(self, rule_id: str) -> None:
        self.retries.labels(self.rules(rule_id)).inc()

    def fell_back(self, rule_id: str) -> None:
        self.fallbacks.labels(self.rules(rule_id)).inc()

    def cooled_down(self, rule_id: str, target: str) -> None:
        self.cooldowns.labels(self.rules(rule_id)).inc()

    def blocked(self, rule_id: str) -> None:
        self.refusals.labels(self.rules(rule_id)).inc()


@dataclass(frozen=True, slots=True)
class CoreMetrics:
    """All of core's metrics, registered once on `registry`."""

    registry: CollectorRegistry
    logs: LogMetrics
    requests: RequestMetrics
    router: RouterMetrics


def build_metrics(
    registry: CollectorRegistry, request_labels: RequestLabels | None = None
) -> CoreMetrics:
    """Creates and registers every metric on `registry` (a fresh CollectorRegistry per test)."""
    request_labels = request_labels or RequestLabels()

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
    labels = request_labels.names

    def histogram(
        name: str, doc: str, names: tuple[str, ...], buckets: tuple[float, ...]
    ) -> Histogram:
        return Histogram(name, doc, names, namespace=NAMESPACE, registry=registry, buckets=buckets)

    route = BASE_LABELS[:2]
    requests = RequestMetrics(
        labels=request_labels,
        requests=counter("requests", "LLM requests, by resolved model.", labels),
        input_tokens=counter("input_tokens", "Input (prompt) tokens.", labels),
        output_tokens=counter("output_tokens", "Output (completion) tokens.", labels),
        cost=counter("cost_dollars", "Cost from the configured prices, in US dollars.", labels),
        errors=counter(
            "request_errors",
            "Failed LLM requests, by error code (upstream_error, rate_limited, ...).",
            (*route, "code"),
        ),
        latency=histogram(
            "request_duration_seconds",
            "Whole call, from arrival in core to the last byte.",
            BASE_LABELS,
            DURATION_BUCKETS,
        ),
        upstream=histogram(
            "upstream_duration_seconds",
            "Time spent waiting on the provider.",
            route,
            DURATION_BUCKETS,
        ),
        overhead=histogram(
            "gateway_overhead_seconds",
            "The gateway's own time: the call's duration less the time upstream.",
            route,
            OVERHEAD_BUCKETS,
        ),
        ttft=histogram(
            "time_to_first_token_seconds",
            "Time to the first streamed token.",
            route,
            DURATION_BUCKETS,
        ),
        bounds=tuple(LabelValues(request_labels.max_values) for _ in labels),
        codes=LabelValues(request_labels.max_values),
    )
    router = RouterMetrics(
        retries=counter("routing_retries", "Retries of a target, by routing rule.", ("rule",)),
        fallbacks=counter(
            "routing_fallbacks", "Moves to another target after a failure, by rule.", ("rule",)
        ),
        cooldowns=counter(
            "routing_cooldowns", "Targets put in cooldown after failures, by rule.", ("rule",)
        ),
        refusals=counter(
            "rate_limited", "Requests refused by a rate-limit or budget rule (429).", ("rule",)
        ),
        rules=LabelValues(MAX_RULE_LABELS),
    )
    return CoreMetrics(registry=registry, logs=logs, requests=requests, router=router)
