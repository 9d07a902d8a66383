"""`KeysClient`: the admin calls of the gateway's `KeyService` (reach it as `client.keys`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gateway.v1 import key_service_pb2 as pb, key_service_pb2_grpc as pb_grpc

from ._client import USE_CLIENT_DEFAULT, _Timeout, _translate_errors

if TYPE_CHECKING:
    from ._client import GatewayClient

__all__ = ["KeysClient"]


class KeysClient:
    """Creates, lists, revokes and rotates API keys; every call needs the admin key.

    Example:
        ```python
        async with GatewayClient("localhost:50051", api_key=ADMIN_KEY) as client:
            created = await client.keys.create("user:alice@example.com", teams=["ml"])
            print(created.secret)  # shown this once
        ```
    """

    def __init__(self, client: GatewayClient) -> None:
        channel = client._channel
        if channel is None:
            raise RuntimeError("GatewayClient is not open: use `async with GatewayClient(...)`")
        self._client = client
        self._stub = pb_grpc.KeyServiceStub(channel)

    async def create(
        self,
        subject: str,
        *,
        teams: Sequence[str] = (),
        admin_teams: Sequence[str] = (),
        models: Sequence[str] = (),
        expires_at_ms: int | None = None,
        api_key: str | None = None,
        timeout: _Timeout = USE_CLIENT_DEFAULT,  # noqa: ASYNC109
    ) -> pb.CreateKeyResponse:
        """Creates a key.

        Args:
            subject: Owner, `user:<email>` or `virtualaccount:<name>`.
            teams: Teams of the subject (`team:<name>` or bare names).
            admin_teams: Teams whose logs and metrics the key may read (implies membership).
            models: Models the key may call (`account/model`); empty allows all.
            expires_at_ms: When the key stops working, epoch milliseconds; None means never.
            api_key: Key for this call instead of the client's.
            timeout: Deadline in seconds instead of the client's; None means none.

        Returns:
            The stored key and its secret, which is returned only this once.
        """
        request = pb.CreateKeyRequest(
            subject=subject, teams=teams, admin_teams=admin_teams, models=models
        )
        if expires_at_ms is not None:
            request.expire_time.FromMilliseconds(expires_at_ms)
        with _translate_errors():
            return await self._stub.CreateKey(
                request, metadata=self._metadata(api_key), timeout=self._deadline(timeout)
            )

    async def list(
        self,
        *,
        subject: str | None = None,
        include_revoked: bool = False,
        api_key: str | None = None,
        timeout: _Timeout = USE_CLIENT_DEFAULT,  # noqa: ASYNC109
    ) -> list[pb.ApiKey]:
        """Lists keys, newest first, without secrets.

        Args:
            subject: Only this subject's keys.
            include_revoked: Whether revoked keys are listed too.
            api_key: Key for this call instead of the client's.
            timeout: Deadline in seconds instead of the client's; None means none.

        Returns:
            The keys.
        """
        request = pb.ListKeysRequest(subject=subject or "", include_revoked=include_revoked)
        with _translate_errors():
            response = await self._stub.ListKeys(
                request, metadata=self._metadata(api_key), timeout=self._deadline(timeout)
            )
        return list(response.api_keys)

    async def revoke(
        self,
        key_id: str,
        *,
        api_key: str | None = None,
        timeout: _Timeout = USE_CLIENT_DEFAULT,  # noqa: ASYNC109
    ) -> pb.ApiKey:
        """Revokes a key; raises `NotFoundError` for an unknown id.

        Args:
            key_id: The key's id.
            api_key: Key for this call instead of the client's.
            timeout: Deadline in seconds instead of the client's; None means none.

        Returns:
            The revoked key.
        """
        request = pb.RevokeKeyRequest(id=key_id)
        with _translate_errors():
            response = await self._stub.RevokeKey(
                request, metadata=self._metadata(api_key), timeout=self._deadline(timeout)
            )
        return response.api_key

    async def rotate(
        self,
        key_id: str,
        *,
        api_key: str | None = None,
        timeout: _Timeout = USE_CLIENT_DEFAULT,  # noqa: ASYNC109
    ) -> pb.RotateKeyResponse:
        """Gives a key a new secret; the old one stops working.

        Args:
            key_id: The key's id.
            api_key: Key for this call instead of the client's.
            timeout: Deadline in seconds instead of the client's; None means none.

        Returns:
            The key with its new prefix, and the new secret (returned only this once).
        """
        request = pb.RotateKeyRequest(id=key_id)
        with _translate_errors():
            return await self._stub.RotateKey(
                request, metadata=self._metadata(api_key), timeout=self._deadline(timeout)
            )

    def _metadata(self, api_key: str | None) -> tuple[tuple[str, str | bytes], ...]:
        return self._client._call_metadata(api_key, None)

    def _deadline(self, timeout: _Timeout) -> float | None:
        return self._client._deadline(timeout)
