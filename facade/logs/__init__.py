"""The request-log JSON API (`POST /api/svc/v1/llm-gateway/requests`, `GET .../{id}`)."""

from facade.logs.routes import PREFIX, attach_logs

__all__ = ["PREFIX", "attach_logs"]
