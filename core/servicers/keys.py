"""KeyService: API key management over gRPC, for the admin key only."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from core.access import ensure_admin
from core.errors import InvalidRequest
from core.identity.keys import IssuedKey, KeyManager
from core.interceptors import current_principal
from core.store.base import ApiKeyRecord
from gateway.v1 import key_service_pb2 as pb, key_service_pb2_grpc as pb_grpc

Context = grpc.aio.ServicerContext[Any, Any]


class KeyServicer(pb_grpc.KeyServiceServicer):
    """Proto <-> KeyManager; every RPC needs the admin key (403 otherwise)."""

    def __init__(self, keys: KeyManager) -> None:
        self._keys = keys

    async def CreateKey(
        self, request: pb.CreateKeyRequest, context: Context
    ) -> pb.CreateKeyResponse:
        ensure_admin(current_principal())
        issued = await self._keys.create(
            subject=request.subject,
            teams=request.teams,
            admin_teams=request.admin_teams,
            models=request.models,
            expires_at=_ms(request.expire_time) if request.HasField("expire_time") else None,
        )
        return pb.CreateKeyResponse(api_key=api_key(issued.record), secret=issued.secret)

    async def ListKeys(self, request: pb.ListKeysRequest, context: Context) -> pb.ListKeysResponse:
        ensure_admin(current_principal())
        records = await self._keys.list(
            subject=request.subject, include_revoked=request.include_revoked
        )
        return pb.ListKeysResponse(api_keys=[api_key(r) for r in records])

    async def RevokeKey(
        self, request: pb.RevokeKeyRequest, context: Context
    ) -> pb.RevokeKeyResponse:
        ensure_admin(current_principal())
        return pb.RevokeKeyResponse(api_key=api_key(await self._keys.revoke(request.id)))

    async def RotateKey(
        self, request: pb.RotateKeyRequest, context: Context
    ) -> pb.RotateKeyResponse:
        ensure_admin(current_principal())
        issued: IssuedKey = await self._keys.rotate(request.id)
        return pb.RotateKeyResponse(api_key=api_key(issued.record), secret=issued.secret)


def api_key(record: ApiKeyRecord) -> pb.ApiKey:
    """The proto of a stored key (no digest, no secret)."""
    key = pb.ApiKey(
        id=record.id,
        subject=record.subject,
        teams=record.teams,
        admin_teams=record.admin_teams,
        models=record.models,
        prefix=record.prefix,
    )
    key.create_time.FromMilliseconds(record.created_at)
    for field, value in (
        (key.expire_time, record.expires_at),
        (key.last_use_time, record.last_used_at),
        (key.revoke_time, record.revoked_at),
    ):
        if value is not None:
            field.FromMilliseconds(value)
    return key


def _ms(timestamp: Timestamp) -> int:
    try:
        return int(timestamp.ToMilliseconds())
    except ValueError:  # protobuf checks the range: years 1 to 9999
        raise InvalidRequest(
            "`expire_time` must be a valid timestamp (years 1 to 9999)", param="expire_time"
        ) from None
