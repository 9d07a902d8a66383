"""The facade's own Prometheus metrics: HTTP requests by route template, method and status.

Route labels are the matched route's template (`/v1/chat/completions`,
`/api/svc/v1/llm-gateway/requests/{log_id}`), never a raw path; requests no route matched
count under `unmatched`. Under `llm-gateway serve` they share core's registry (one /metrics);
a facade running alone serves them on its own /metrics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HttpMetrics", "instrument"]

NAMESPACE = "llm_gateway"
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


@dataclass(frozen=True, slots=True)
class HttpMetrics:
    requests: Counter
    duration: Histogram

    @classmethod
    def register(cls, registry: CollectorRegistry) -> HttpMetrics:
        return cls(
            requests=Counter(
                "http_requests",
                "HTTP requests the facade answered, by route template, method and status.",
                ("route", "method", "status"),
                namespace=NAMESPACE,
                registry=registry,
            ),
            duration=Histogram(
                "http_request_duration_seconds",
                "Time from the request to the end of the answer (the whole stream for SSE).",
                ("route", "method"),
                namespace=NAMESPACE,
                registry=registry,
                buckets=_BUCKETS,
            ),
        )


def instrument(app: ASGIApp, metrics: HttpMetrics) -> ASGIApp:
    """`app`, counting and timing every HTTP request."""
    # (counter, histogram) by (route, method, status), looked up once each: prometheus_client's
    # `labels()` is slow.
    series: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    async def measured(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app starts an answer

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            route = _template(scope)
            method = scope["method"] if scope["method"] in _METHODS else "other"
            key = (route, method, str(status))
            found = series.get(key)
            if found is None:
                found = series[key] = (
                    metrics.requests.labels(*key),
                    metrics.duration.labels(route, method),
                )
            found[0].inc()
            found[1].observe(elapsed)

    return measured


def _template(scope: Scope) -> str:
    """The matched route's full template, prefix included; UNMATCHED when none matched."""
    # FastAPI keeps an included router's routes unprefixed (scope["route"].path is
    # "/chat/completions") and records the full template in its routing context.
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    template = getattr(context, "path_format", None) or getattr(scope.get("route"), "path", None)
    return template if isinstance(template, str) and template else UNMATCHED
