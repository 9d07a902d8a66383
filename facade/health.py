"""`GET /healthz`: liveness, without auth."""

from __future__ import annotations

from fastapi import FastAPI, Response

__all__ = ["attach_health"]

_OK = b'{"status":"ok"}'


async def healthz() -> Response:
    """Answers while the process serves HTTP."""
    return Response(_OK, media_type="application/json")


def attach_health(app: FastAPI) -> None:
    """Mounts `/healthz` on `app`."""
    app.add_api_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
