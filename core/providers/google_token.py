"""Google OAuth access tokens for Vertex AI, minted and refreshed off the event loop.

google-auth refreshes with blocking HTTP to the token endpoint (or the metadata server), so
every refresh runs in a worker thread. A call only waits for one when there is no usable
token at all (the first call, or after a long failure); otherwise a token with less than
`refresh_margin` left is used as it is while one shared refresh runs in the background.
Concurrent calls never start a second refresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from core.errors import UpstreamFailed, UpstreamTimeout

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
REFRESH_MARGIN = timedelta(minutes=5)
"""Refresh this long before expiry. Google tokens live an hour, so calls almost never wait."""
_EXPIRY_SKEW = timedelta(seconds=10)
"""A token this close to expiry is treated as expired: it could lapse on the way."""

_log = logging.getLogger(__name__)


class Credentials(Protocol):
    """What is used of `google.auth.credentials.Credentials`."""

    token: str | None
    expiry: datetime | None
    """Naive UTC, as google-auth keeps it; None when the token does not expire."""

    def refresh(self, request: Any) -> None: ...


def utc_now() -> datetime:
    """Now as google-auth compares expiry: naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def load_credentials(credentials_file: str | None) -> Credentials:
    """A service-account file's credentials, or the application-default ones (blocking:
    reads files and may probe the metadata server, so called in a worker thread)."""
    if credentials_file:
        from google.oauth2 import service_account

        loaded: Credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            credentials_file, scopes=list(SCOPES)
        )
        return loaded
    import google.auth

    found, _ = google.auth.default(scopes=list(SCOPES))
    return found


def _refresh_request() -> Any:
    from google.auth.transport.requests import Request

    return Request()


class TokenSource:
    """Access tokens for one account: `await token()` on every call, cheap when fresh."""

    def __init__(
        self,
        load: Callable[[], Credentials],
        *,
        label: str,
        timeout_seconds: float,
        clock: Callable[[], datetime] = utc_now,
        refresh_margin: timedelta = REFRESH_MARGIN,
    ) -> None:
        self._load = load
        self._timeout = timeout_seconds
        self._credentials: Credentials | None = None
        self._label = label
        self._clock = clock
        self._margin = refresh_margin
        self._refreshing: asyncio.Task[str] | None = None
        self._request: Any = None
        """google-auth's HTTP transport for refreshes: one pooled session, made (and used)
        only in worker threads, one refresh at a time."""
        self.refreshes = 0
        """Refreshes started (read by tests and diagnostics)."""

    async def token(self) -> str:
        """A token to send now; waits only when none is usable."""
        credentials = self._credentials
        if credentials is not None and credentials.token:
            remaining = self._remaining(credentials)
            if remaining is None or remaining > self._margin:
                return credentials.token
            if remaining > _EXPIRY_SKEW:
                self._start_refresh()  # in the background; this call goes on with the old one
                return credentials.token
        try:
            async with asyncio.timeout(self._timeout):
                # Shielded: a caller that gives up leaves the refresh to the others.
                return await asyncio.shield(self._start_refresh())
        except TimeoutError:
            raise UpstreamTimeout(
                f"{self._label}: no Google access token within {self._timeout:g} s "
                "(timeout_seconds)"
            ) from None

    def _remaining(self, credentials: Credentials) -> timedelta | None:
        if credentials.expiry is None:
            return None
        return credentials.expiry - self._clock()

    def _start_refresh(self) -> asyncio.Task[str]:
        if self._refreshing is None or self._refreshing.done():
            self.refreshes += 1
            self._refreshing = asyncio.create_task(self._refresh(), name="google-token-refresh")
            self._refreshing.add_done_callback(_log_background_failure)
        return self._refreshing

    async def _refresh(self) -> str:
        try:
            return await asyncio.to_thread(self._refresh_blocking)
        except Exception as exc:
            # The reason, never the credentials: google-auth's errors name the token URI.
            raise UpstreamFailed(
                f"{self._label}: could not get a Google access token "
                f"({type(exc).__name__}: {str(exc)[:200]})"
            ) from exc

    def _refresh_blocking(self) -> str:
        if self._credentials is None:
            self._credentials = self._load()
        if self._request is None:
            self._request = _refresh_request()
        self._credentials.refresh(self._request)
        token = self._credentials.token
        if not token:
            raise ValueError("the credentials gave no token")
        return token

    async def aclose(self) -> None:
        task = self._refreshing
        if task is not None and not task.done():
            task.cancel()
            # The worker thread finishes its HTTP on its own; only the wait is cancelled.
            await asyncio.gather(task, return_exceptions=True)
        session = getattr(self._request, "session", None)
        if session is not None:
            session.close()


def _log_background_failure(task: asyncio.Task[str]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        # A background refresh that fails leaves the old token in use; the next call past
        # the margin tries again, and once the token is gone a call waits and reports it.
        _log.warning("background Google token refresh failed: %s", error)
