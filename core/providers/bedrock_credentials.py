"""One Bedrock account's AWS credentials: found on first use, refreshed, never on the loop.

botocore's credential chain reads files and may call the network (instance metadata, the
container endpoint, STS for an assumed role or web identity), each with timeouts of seconds.
Providers are built during start-up and config hot reload, on the event loop, so the chain
runs on the first request instead, in a worker thread, once however many requests arrive
together. Refreshable credentials (a role, SSO, container or instance credentials) then
refresh with blocking I/O inside `get_frozen_credentials()`; that too runs in a worker
thread whenever a refresh may be due, one refresh at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from botocore.credentials import RefreshableCredentials
from botocore.session import Session

from core.config.models import ProviderAccount
from core.errors import UpstreamFailed

_OFF_LOOP_MARGIN_SECONDS = 60.0
"""How long before botocore itself would refresh that signing already moves off the loop, so
the check here and botocore's own check cannot fall on opposite sides of its threshold."""

_BOTOCORE_ADVISORY_SECONDS = 15 * 60.0
"""botocore's default advisory refresh window (RefreshableCredentials)."""

_MAX_REASON = 200
"""Most of a chain failure's own text quoted in the error."""

_RECENT = 2
"""Sets of credential values redacted from upstream errors: the current ones and those before
the last refresh, which a request still in flight may have been signed with."""


class AwsCredentials:
    """Credentials for signing: `await frozen()` before each signature, cheap when fresh."""

    def __init__(self, resolve: Callable[[], Any], *, label: str) -> None:
        """`resolve` is the blocking chain (None when it finds nothing); `label` names the
        account in errors."""
        self._resolve = resolve
        self._label = label
        self._credentials: Any = None
        self._resolving = asyncio.Lock()
        self._refreshing: asyncio.Future[Any] | None = None
        self._off_loop_window = _BOTOCORE_ADVISORY_SECONDS + _OFF_LOOP_MARGIN_SECONDS
        self._recent: tuple[tuple[str, ...], ...] = ()
        self.resolutions = 0
        """Times the chain ran (read by tests and diagnostics)."""

    @classmethod
    def of(cls, credentials: Any) -> AwsCredentials:
        """Credentials already in hand (botocore's static or refreshable ones)."""
        found = cls(lambda: credentials, label="aws")
        found._adopt(credentials)
        return found

    @classmethod
    def from_account(cls, account: ProviderAccount) -> AwsCredentials:
        """The standard chain, resolved on first use: the AWS_* environment variables, then
        `aws_profile` (or AWS_PROFILE) in the shared files, then a role (web identity,
        container, instance metadata)."""
        profile = account.aws_profile

        def resolve() -> Any:
            # The Session too reads the shared files: all of it runs in the worker thread.
            return Session(profile=profile).get_credentials()

        return cls(resolve, label=f"provider account {account.name!r}")

    async def frozen(self) -> Any:
        """botocore's ReadOnlyCredentials to sign with now."""
        credentials = self._credentials
        if credentials is None:
            credentials = await self._resolved()
        if not isinstance(credentials, RefreshableCredentials) or not credentials.refresh_needed(
            self._off_loop_window
        ):
            # Static, or far from expiry: botocore's own check inside finds nothing to do and
            # returns at once, so a thread hop on every request would only add latency.
            frozen = credentials.get_frozen_credentials()
        else:
            if self._refreshing is None:
                future = asyncio.ensure_future(
                    asyncio.to_thread(credentials.get_frozen_credentials)
                )
                future.add_done_callback(self._refreshed)
                self._refreshing = future
            # Shielded: one caller giving up must not cancel the refresh the others wait for.
            frozen = await asyncio.shield(self._refreshing)
        values = tuple(v for v in (frozen.access_key, frozen.token, frozen.secret_key) if v)
        if not self._recent or values != self._recent[0]:
            self._recent = (values, *self._recent)[:_RECENT]
        return frozen

    def secrets(self) -> tuple[str, ...]:
        """The key ids and session tokens recently signed with, to keep out of messages (the
        secret key is included too, though no request carries it)."""
        return tuple(value for values in self._recent for value in values)

    async def _resolved(self) -> Any:
        # The lock makes concurrent first requests wait for one run of the chain. A caller
        # cancelled while it waits releases the lock; the next one runs the chain again (the
        # abandoned thread ends on its own), which only costs a second lookup.
        async with self._resolving:
            if self._credentials is None:
                self.resolutions += 1
                try:
                    found = await asyncio.to_thread(self._resolve)
                except Exception as exc:  # a missing profile, an unreachable STS, ...
                    raise UpstreamFailed(
                        f"{self._label}: could not resolve AWS credentials "
                        f"({type(exc).__name__}: {str(exc)[:_MAX_REASON]})"
                    ) from exc
                if found is None:
                    # Not remembered: the next request looks again (a role may come up).
                    raise UpstreamFailed(
                        f"{self._label}: no AWS credentials found (set AWS_ACCESS_KEY_ID/"
                        "AWS_SECRET_ACCESS_KEY, aws_profile or AWS_PROFILE, or run with a role)"
                    )
                self._adopt(found)
            return self._credentials

    def _adopt(self, credentials: Any) -> None:
        advisory = getattr(credentials, "_advisory_refresh_timeout", _BOTOCORE_ADVISORY_SECONDS)
        self._off_loop_window = (
            max(float(advisory), _BOTOCORE_ADVISORY_SECONDS) + _OFF_LOOP_MARGIN_SECONDS
        )
        self._credentials = credentials

    def _refreshed(self, future: asyncio.Future[Any]) -> None:
        self._refreshing = None
        if not future.cancelled():
            future.exception()  # retrieved here too, so an unawaited failure is not logged
