"""Bedrock's error shapes -> the gateway's errors, through the one table in `upstream_errors`.

Bedrock names an error by its type (`x-amzn-ErrorType: ThrottlingException:...` on an HTTP
answer, `:exception-type: throttlingException` on a stream frame) and puts the text in
`{"message": ...}`. Both are read here and handed to `status_error`, so Retry-After, 4xx
pass-through and 5xx -> 502 stay one rule. Two statuses mean something else at Bedrock: 408
is the model timing out (504, like any upstream timeout) and 424 is the model failing (502).

AWS's signature errors quote the request as it should have been signed: its canonical form
holds the session token (`x-amz-security-token`), and other messages quote the
`Credential=<access key id>/...` scope. Such a message is cut before the quote, and the
credential values in use are replaced wherever they still appear.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import orjson

from core.errors import GatewayError, UpstreamFailed, UpstreamTimeout
from core.providers.upstream_errors import MAX_ERROR_TEXT, status_error

EXCEPTION_STATUS = {
    "throttlingException": 429,
    "validationException": 400,
    "accessDeniedException": 403,
    "resourceNotFoundException": 404,
    "modelTimeoutException": 408,
    "modelNotReadyException": 429,
    "serviceQuotaExceededException": 400,
    "modelErrorException": 424,
    "modelStreamErrorException": 424,
    "internalServerException": 500,
    "serviceUnavailableException": 503,
}
"""Stream exception frames by `:exception-type`, at the HTTP status Bedrock gives each."""

_SIGNED_REQUEST_QUOTE = re.compile(r"canonical string|string-to-sign", re.IGNORECASE)
"""Where an AWS signature error starts quoting the signed request."""
_WITHHELD = "(the signed request it quoted is withheld)"
REDACTED = "[redacted]"


def bedrock_status_error(
    status: int,
    body: bytes,
    *,
    label: str,
    secrets: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
) -> GatewayError:
    """The gateway error for a non-2xx Bedrock answer (the transport's `status_error_of`)."""
    kind = (headers or {}).get("x-amzn-errortype", "").partition(":")[0]
    return _error(status, kind, body, label=label, secrets=secrets, headers=headers)


def exception_frame_error(
    kind: str, payload: bytes, *, label: str, secrets: Sequence[str] = ()
) -> GatewayError:
    """The gateway error for an exception frame of a stream (`:exception-type` `kind`), at
    the status Bedrock gives that exception on an HTTP answer."""
    status = EXCEPTION_STATUS.get(kind, 500)
    name = kind[:1].upper() + kind[1:]
    return _error(status, f"{name} in the stream", payload, label=label, secrets=secrets)


def _error(
    status: int,
    kind: str,
    body: bytes,
    *,
    label: str,
    secrets: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
) -> GatewayError:
    message = _message(body, secrets)
    if kind:
        message = f"{kind}: {message}"
    # Re-shaped into the `{"error": {"message"}}` form the shared table quotes.
    shaped = orjson.dumps({"error": {"message": message}})
    error = status_error(status, shaped, label=label, secrets=secrets, headers=headers)
    if status == 408:
        return UpstreamTimeout(error.message, details=error.details)
    if status == 424:
        return UpstreamFailed(error.message, upstream_status=status, details=error.details)
    return error


def _message(body: bytes, secrets: Sequence[str]) -> str:
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        decoded = None
    if isinstance(decoded, dict):
        for key in ("message", "Message"):
            if isinstance(decoded.get(key), str):
                return redacted(str(decoded[key]), secrets)
    # Redacted before it is shortened: a cut through a secret would leave part of it.
    text = redacted(body.decode("utf-8", "replace").strip(), secrets)
    if len(text) > MAX_ERROR_TEXT:
        text = text[:MAX_ERROR_TEXT] + "..."
    return text or "(empty body)"


def redacted(message: str, secrets: Sequence[str]) -> str:
    """`message` cut before any quote of the signed request (its first sentence kept), with
    every one of `secrets` replaced."""
    quote = _SIGNED_REQUEST_QUOTE.search(message)
    if quote is not None:
        before = message[: quote.start()].strip()
        sentence, dot, _ = before.partition(". ")
        message = f"{sentence}{dot.strip()} {_WITHHELD}".lstrip()
    # Longest first, so a value that contains another is replaced whole.
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        message = message.replace(secret, REDACTED)
    return message
