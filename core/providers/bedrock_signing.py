"""AWS Signature Version 4 for Bedrock requests, with botocore's signer and credential chain.

The HTTP goes through the gateway's own pooled transport; botocore only resolves credentials
(once, at start-up) and computes the `Authorization` header over the exact URL and body bytes
that are then sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import RefreshableCredentials
from botocore.session import Session

from core.config.loader import ConfigError
from core.config.models import ProviderAccount

SIGNING_NAME = "bedrock"
"""The service name in the credential scope of every Bedrock runtime operation."""

_SIGNATURE_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")
"""What signing adds to a request; everything else signed is already on it."""

_OFF_LOOP_MARGIN_SECONDS = 60.0
"""How long before botocore itself would refresh that signing already moves off the loop, so
the check here and botocore's own check cannot fall on opposite sides of its threshold."""

_BOTOCORE_ADVISORY_SECONDS = 15 * 60.0
"""botocore's default advisory refresh window (RefreshableCredentials)."""


class SigV4Signer:
    """Signs requests for one region and service with one set of credentials.

    Static credentials (keys from the environment or a profile) are used as they are.
    Refreshable ones (an assumed role, SSO, container or instance credentials) refresh with
    blocking I/O inside `get_frozen_credentials()`; that runs in a worker thread whenever a
    refresh may be due, one refresh at a time, so the event loop never waits on it.
    """

    def __init__(self, credentials: Any, region: str, *, service: str = SIGNING_NAME) -> None:
        self._credentials = credentials
        self._region = region
        self._service = service
        self._refreshing: asyncio.Future[Any] | None = None
        advisory = getattr(credentials, "_advisory_refresh_timeout", _BOTOCORE_ADVISORY_SECONDS)
        self._off_loop_window = (
            max(float(advisory), _BOTOCORE_ADVISORY_SECONDS) + _OFF_LOOP_MARGIN_SECONDS
        )

    @classmethod
    def from_account(cls, account: ProviderAccount) -> SigV4Signer:
        """Resolves the standard chain once: the AWS_* environment variables, then
        `aws_profile` (or AWS_PROFILE) in the shared files, then a role (web identity,
        container, instance metadata). Called at start-up, never per request."""
        assert account.region is not None  # the config model requires it for bedrock
        credentials = Session(profile=account.aws_profile).get_credentials()
        if credentials is None:
            raise ConfigError(
                f"provider account {account.name!r}: no AWS credentials found (set "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, aws_profile or AWS_PROFILE, or run "
                "with a role)"
            )
        return cls(credentials, account.region)

    async def sign(
        self, method: str, url: str, body: bytes, headers: Mapping[str, str]
    ) -> dict[str, str]:
        """The headers to add so `method url` with exactly `body` and `headers` is signed.

        Every header in `headers` is signed, so pass exactly the ones that will be sent
        (Host is taken from `url`, as the HTTP client will send it).
        """
        frozen = await self._frozen()
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
        SigV4Auth(frozen, self._service, self._region).add_auth(request)
        return {
            name: request.headers[name] for name in _SIGNATURE_HEADERS if name in request.headers
        }

    async def _frozen(self) -> Any:
        credentials = self._credentials
        if not isinstance(credentials, RefreshableCredentials) or not credentials.refresh_needed(
            self._off_loop_window
        ):
            # Static, or far from expiry: botocore's own check inside finds nothing to do.
            return credentials.get_frozen_credentials()
        if self._refreshing is None:
            future = asyncio.ensure_future(asyncio.to_thread(credentials.get_frozen_credentials))
            future.add_done_callback(self._refreshed)
            self._refreshing = future
        # Shielded: one caller giving up must not cancel the refresh the others wait for.
        return await asyncio.shield(self._refreshing)

    def _refreshed(self, future: asyncio.Future[Any]) -> None:
        self._refreshing = None
        if not future.cancelled():
            future.exception()  # retrieved here too, so an unawaited failure is not logged
