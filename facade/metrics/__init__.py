"""The metrics JSON API (`POST /api/svc/v1/llm-gateway/metrics/query`)."""

from facade.metrics.routes import attach_metrics

__all__ = ["attach_metrics"]
