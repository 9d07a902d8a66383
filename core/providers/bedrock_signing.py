"""AWS Signature Version 4 for Bedrock requests, with botocore's signer.

The HTTP goes through the gateway's own pooled transport; botocore only computes the
`Authorization` header over the exact URL and body bytes that are then sent. The credentials
come from `bedrock_credentials`, which finds and refreshes them off the event loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from core.config.models import ProviderAccount
from core.providers.bedrock_credentials import AwsCredentials

SIGNING_NAME = "bedrock"
"""The service name in the credential scope of every Bedrock runtime operation."""

_SIGNATURE_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")
"""What signing adds to a request; everything else signed is already on it."""


class SigV4Signer:
    """Signs requests for one region and service with one account's credentials."""

    def __init__(self, credentials: Any, region: str, *, service: str = SIGNING_NAME) -> None:
        """`credentials`: an `AwsCredentials`, or botocore credentials already in hand."""
        self._credentials = (
            credentials
            if isinstance(credentials, AwsCredentials)
            else AwsCredentials.of(credentials)
        )
        self._region = region
        self._service = service

    @classmethod
    def from_account(cls, account: ProviderAccount) -> SigV4Signer:
        """A signer whose credentials the standard chain finds on the first request (nothing
        is looked up here: this runs on the event loop, at start-up and on config reload)."""
        assert account.region is not None  # the config model requires it for bedrock
        return cls(AwsCredentials.from_account(account), account.region)

    @property
    def credentials(self) -> AwsCredentials:
        return self._credentials

    def secrets(self) -> tuple[str, ...]:
        """Credential values recently signed with, which no error message may quote."""
        return self._credentials.secrets()

    async def sign(
        self, method: str, url: str, body: bytes, headers: Mapping[str, str]
    ) -> dict[str, str]:
        """The headers to add so `method url` with exactly `body` and `headers` is signed.

        Every header in `headers` is signed, so pass exactly the ones that will be sent
        (Host is taken from `url`, as the HTTP client will send it).
        """
        frozen = await self._credentials.frozen()
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
        SigV4Auth(frozen, self._service, self._region).add_auth(request)
        return {
            name: request.headers[name] for name in _SIGNATURE_HEADERS if name in request.headers
        }
