"""ResponseService: the Responses API's stored responses, each readable only by its key.

A response belongs to the key that stored it (by key id, which a rotated key keeps). The
admin key may read and delete any. For every other caller a response of another key does
not exist: NOT_FOUND, the same answer as for an unknown id, so ids cannot be probed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc

from core.auth import Principal
from core.errors import InvalidRequest, PayloadTooLarge, ResponseExists, ResponseNotFound
from core.interceptors import current_principal
from core.store.base import Store, StoredResponseRecord
from gateway.v1 import response_service_pb2 as pb, response_service_pb2_grpc as pb_grpc

Context = grpc.aio.ServicerContext[Any, Any]

MAX_ID_CHARS = 256
MAX_STORED_BYTES = 15 * 1024 * 1024
"""Largest stored response: under MongoDB's 16 MiB document limit, with room for its fields."""


class ResponseServicer(pb_grpc.ResponseServiceServicer):
    """Proto <-> the store's `responses`; scoping by the caller's key."""

    def __init__(
        self, store: Store, *, now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000
    ) -> None:
        self._store = store
        self._now_ms = now_ms

    async def StoreResponse(
        self, request: pb.StoreResponseRequest, context: Context
    ) -> pb.StoreResponseResponse:
        response = pb.StoredResponse()
        response.CopyFrom(request.response)
        _check_id(response.id, "response.id")
        created_at = self._now_ms()
        response.create_time.FromMilliseconds(created_at)
        body = response.SerializeToString()
        if len(body) > MAX_STORED_BYTES:
            raise PayloadTooLarge(
                f"the response is {len(body)} bytes; at most {MAX_STORED_BYTES} can be stored",
                param="response",
            )
        record = StoredResponseRecord(
            id=response.id,
            key_id=current_principal().key_id,
            created_at=created_at,
            body=body,
        )
        if not await self._store.insert_response(record):
            raise ResponseExists(f"a response with id {response.id!r} exists", param="response.id")
        return pb.StoreResponseResponse(create_time=response.create_time)

    async def GetResponse(
        self, request: pb.GetResponseRequest, context: Context
    ) -> pb.GetResponseResponse:
        record = await self._owned(request.id)
        return pb.GetResponseResponse(response=pb.StoredResponse.FromString(record.body))

    async def DeleteResponse(
        self, request: pb.DeleteResponseRequest, context: Context
    ) -> pb.DeleteResponseResponse:
        record = await self._owned(request.id)
        if not await self._store.delete_response(record.id):
            raise _not_found(record.id)  # deleted meanwhile by another call
        return pb.DeleteResponseResponse()

    async def _owned(self, response_id: str) -> StoredResponseRecord:
        _check_id(response_id, "id")
        record = await self._store.get_response(response_id)
        if record is None or not _may_use(current_principal(), record):
            raise _not_found(response_id)
        return record


def _may_use(principal: Principal, record: StoredResponseRecord) -> bool:
    return principal.is_admin or principal.key_id == record.key_id


def _not_found(response_id: str) -> ResponseNotFound:
    return ResponseNotFound(f"no response with id {response_id!r}", param="id")


def _check_id(response_id: str, param: str) -> None:
    if not response_id:
        raise InvalidRequest(f"{param} is required", param=param)
    if len(response_id) > MAX_ID_CHARS or not (response_id.isascii() and response_id.isprintable()):
        raise InvalidRequest(
            f"{param} must be 1 to {MAX_ID_CHARS} printable ASCII characters", param=param
        )
