"""LogService: record a call made elsewhere (`Log`), and read records (`ListLogs`, `GetLog`).

Every read is restricted to what the caller may see (`core.access.log_scope`); a record
outside that scope is simply not found. Every read answer fits one gRPC message: the largest
bodies are shortened, visibly (`core.logs.fit`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import grpc

from core.access import log_scope
from core.auth import Principal
from core.config.settings import DEFAULT_GRPC_MAX_MESSAGE_BYTES
from core.errors import InvalidRequest, LogNotFound
from core.ids import caller_id_prefix
from core.interceptors import current_principal
from core.logs.convert import check_entry, entry_to_record, record_to_entry
from core.logs.fit import fit_entries
from core.logs.query import PageBounds, encode_page_token, query_from_request
from core.store.base import LogRecord, Store
from gateway.v1 import log_service_pb2 as pb, log_service_pb2_grpc as pb_grpc

Context = grpc.aio.ServicerContext[Any, Any]
LogSink = Callable[[LogRecord], None]


class LogServicer(pb_grpc.LogServiceServicer):
    """Proto <-> store; writes go through `sink` (the log pipeline) when one is given."""

    def __init__(
        self,
        store: Store,
        *,
        sink: LogSink | None = None,
        bounds: PageBounds | None = None,
        max_message_bytes: int = DEFAULT_GRPC_MAX_MESSAGE_BYTES,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._store = store
        self._sink = sink
        self._bounds = bounds or PageBounds()
        self._max_message_bytes = max_message_bytes
        self._clock = clock

    async def Log(self, request: pb.LogRequest, context: Context) -> pb.LogResponse:
        if not request.HasField("log_entry"):
            raise InvalidRequest("log_entry is required", param="log_entry")
        check_entry(request.log_entry, self._clock() // 1_000_000)
        record = self._attributed(entry_to_record(request.log_entry), current_principal())
        if not request.log_entry.HasField("create_time"):
            record = replace(record, created_at=self._clock() // 1_000_000)
        if self._sink is not None:
            self._sink(record)
        else:
            await self._store.insert_logs([record])
        return pb.LogResponse(id=record.id)

    async def ListLogs(self, request: pb.ListLogsRequest, context: Context) -> pb.ListLogsResponse:
        query = query_from_request(request, log_scope(current_principal()), self._bounds)
        page = await self._store.query_logs(query)
        end = query.offset + len(page.records)
        entries = [record_to_entry(r) for r in page.records]
        fit_entries(entries, self._max_message_bytes)
        return pb.ListLogsResponse(
            log_entries=entries,
            next_page_token=encode_page_token(end) if page.records and end < page.total else "",
            total_size=page.total,
            page_size=query.limit,
            offset=query.offset,
        )

    async def GetLog(self, request: pb.GetLogRequest, context: Context) -> pb.GetLogResponse:
        if not request.id:
            raise InvalidRequest("id is required", param="id")
        scope = log_scope(current_principal())
        record = await self._store.get_log(request.id, scope)
        if record is None:  # the caller's own `x-request-id`: its newest call's record
            prefix = caller_id_prefix(request.id)
            record = await self._store.newest_log_with_id_prefix(prefix, scope)
        if record is None:
            raise LogNotFound(f"no request log with id {request.id!r}", param="id")
        entry = record_to_entry(record)
        fit_entries([entry], self._max_message_bytes)
        return pb.GetLogResponse(log_entry=entry)

    def _attributed(self, record: LogRecord, principal: Principal) -> LogRecord:
        # The admin may record on behalf of a subject; anyone else records as themselves.
        on_behalf = principal.is_admin and bool(record.subject)
        return replace(
            record,
            id=record.id or uuid.uuid4().hex,
            subject=record.subject if on_behalf else principal.subject,
            teams=record.teams if on_behalf else principal.teams,
            key_id=principal.key_id,
            http_status=record.http_status or _default_http_status(record),
        )


def _default_http_status(record: LogRecord) -> int:
    return 200 if record.status == "success" else 500
