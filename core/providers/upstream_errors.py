"""The one table from upstream failures to the gateway's `Upstream*` errors: transport
failures (refused, reset, timed out), non-2xx answers (quoting the provider's message and
its `Retry-After`), and answers over the size cap. Secrets never reach a message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import orjson

from core.errors import (
    GatewayError,
    UpstreamFailed,
    UpstreamRejected,
    UpstreamStreamCut,
    UpstreamTimeout,
)

MAX_ERROR_TEXT = 300
"""Longest raw upstream body quoted in an error message."""

_MAX_RETRY_AFTER_SECONDS = 3600.0

# (failure raised by the transport, error before the answer started, error mid-stream).
# First matching row wins, so the specific rows come first: aiohttp's timeouts are
# ClientErrors too.
_TRANSPORT_ERRORS: tuple[
    tuple[tuple[type[BaseException], ...], type[GatewayError], type[GatewayError]], ...
] = (
    ((TimeoutError,), UpstreamTimeout, UpstreamTimeout),
    ((aiohttp.ClientConnectorError,), UpstreamFailed, UpstreamFailed),
    ((aiohttp.ClientError, OSError), UpstreamFailed, UpstreamStreamCut),
)
_WHAT = {UpstreamFailed: "connection failed", UpstreamStreamCut: "stream broke off"}


def _redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def transport_error(
    exc: BaseException,
    *,
    label: str,
    mid_stream: bool,
    timed_out: str,
    secrets: Sequence[str] = (),
) -> GatewayError | None:
    """The gateway error for a transport failure, or None when `exc` is not one (a bug).

    `timed_out` says what a timeout means where it struck, e.g. "did not answer within 60 s
    (timeout_seconds)": the caller knows which of its bounds was crossed.
    """
    for kinds, before, during in _TRANSPORT_ERRORS:
        if isinstance(exc, kinds):
            error_class = during if mid_stream else before
            break
    else:
        return None
    if error_class is UpstreamTimeout:
        return UpstreamTimeout(f"{label}: upstream {timed_out}")
    detail = _redact(f"{type(exc).__name__}: {exc}"[:MAX_ERROR_TEXT], secrets)
    return error_class(f"{label}: upstream {_WHAT[error_class]} ({detail})")


def too_large_error(label: str, limit: int, *, what: str = "answer") -> UpstreamFailed:
    """An answer (or one stream event) over `max_response_bytes`: refused, not buffered."""
    return UpstreamFailed(
        f"{label}: upstream {what} is over max_response_bytes ({limit} bytes); raise "
        "max_response_bytes on the provider account if answers this big are expected"
    )


def status_error(
    status: int,
    body: bytes,
    *,
    label: str,
    secrets: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
) -> GatewayError:
    """The gateway error for a non-2xx upstream answer, quoting the provider's own message.

    A `Retry-After` (or `retry-after-ms`) the provider sent travels as `retry_after_seconds`,
    so retries and cooldowns wait as long as the provider asked, and callers learn it too.
    Google's APIs say it in the body instead (a `RetryInfo` detail's `retryDelay`).
    """
    message = _redact(_provider_message(body), secrets)
    text = f"{label}: upstream answered HTTP {status}: {message}"
    retry_after = _retry_after_seconds(headers) if headers is not None else None
    if retry_after is None and status == 429:
        retry_after = _retry_info_seconds(body)
    details = {"retry_after_seconds": retry_after} if retry_after is not None else None
    if 400 <= status < 500:
        return UpstreamRejected(text, upstream_status=status, details=details)
    return UpstreamFailed(text, upstream_status=status, details=details)


def _retry_after_seconds(headers: Mapping[str, str]) -> str | None:
    # Seconds as a decimal string; HTTP-date forms are rare from LLM APIs and are ignored.
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            seconds = float(raw) * scale
        except ValueError:
            continue
        if 0 <= seconds <= _MAX_RETRY_AFTER_SECONDS:
            return f"{seconds:g}"
    return None


def _retry_info_seconds(body: bytes) -> str | None:
    # {"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
    #                         "retryDelay": "37s"}]}}, as Gemini and Vertex answer a 429.
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    error = decoded.get("error") if isinstance(decoded, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else ():
        if not isinstance(detail, dict) or not str(detail.get("@type", "")).endswith(
            "google.rpc.RetryInfo"
        ):
            continue
        delay = detail.get("retryDelay")
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                seconds = float(delay[:-1])
            except ValueError:
                return None
            if 0 <= seconds <= _MAX_RETRY_AFTER_SECONDS:
                return f"{seconds:g}"
    return None


def _provider_message(body: bytes) -> str:
    # OpenAI, Azure and Anthropic all answer {"error": {"message": ...}}; else quote the text.
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        decoded = None
    if isinstance(decoded, dict):
        error = decoded.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
    text = body.decode("utf-8", "replace").strip()
    if len(text) > MAX_ERROR_TEXT:
        text = text[:MAX_ERROR_TEXT] + "..."
    return text or "(empty body)"


def stream_error_message(payload: Mapping[str, Any]) -> str:
    """The message of an `{"error": ...}` event sent inside a stream."""
    return _provider_message(orjson.dumps(payload))
