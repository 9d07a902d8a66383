"""`InProcessContext`: the servicer's view of an in-process call (grpc.aio.ServicerContext)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import grpc

from core.inprocess.methods import Metadata

# grpc's stubs declare `grpc.aio.Metadata`; grpc.aio itself hands servicers tuples of pairs,
# and so do we (servicers only iterate them).
_Pairs = grpc.aio.Metadata | Sequence[tuple[str, str | bytes]]


class InProcessContext(grpc.aio.ServicerContext[Any, Any]):
    """Holds what the servicer says about the call: headers, trailers, status.

    `initial` resolves when the servicer sends its initial metadata, or when the call ends
    without (a "trailers-only" answer, as gRPC sends for an early error).
    """

    def __init__(self, metadata: Metadata, deadline: float | None) -> None:
        self._metadata = metadata
        self._deadline = deadline
        self.initial: asyncio.Future[Metadata] = asyncio.get_running_loop().create_future()
        self.trailing: Metadata = ()
        self.status = grpc.StatusCode.OK
        self.status_details = ""
        self._done = False
        self._cancelled = False

    def invocation_metadata(self) -> Metadata:  # type: ignore[override]
        return self._metadata

    async def send_initial_metadata(self, initial_metadata: _Pairs) -> None:
        if not self.initial.done():
            self.initial.set_result(tuple(initial_metadata))

    def set_trailing_metadata(self, trailing_metadata: _Pairs) -> None:
        self.trailing = tuple(trailing_metadata)

    def trailing_metadata(self) -> Metadata:  # type: ignore[override]
        return self.trailing

    async def abort(
        self,
        code: grpc.StatusCode,
        details: str = "",
        trailing_metadata: _Pairs = (),
    ) -> NoReturn:
        self.status, self.status_details = code, details
        if trailing_metadata:
            self.trailing = tuple(trailing_metadata)
        raise grpc.aio.AbortError(details)

    async def abort_with_status(self, status: grpc.Status) -> NoReturn:
        await self.abort(status.code, status.details, status.trailing_metadata)

    def set_code(self, code: grpc.StatusCode) -> None:
        self.status = code

    def set_details(self, details: str) -> None:
        self.status_details = details

    def code(self) -> grpc.StatusCode:
        return self.status

    def details(self) -> str:
        return self.status_details

    def time_remaining(self) -> float | None:  # type: ignore[override] # None: no deadline
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def finish(self, code: grpc.StatusCode | None = None, details: str = "") -> None:
        """The call ended: with `code` when it is not the servicer's own status."""
        if code is not None:
            self.status, self.status_details = code, details
        self._cancelled = code is grpc.StatusCode.CANCELLED
        self._done = True
        if not self.initial.done():
            self.initial.set_result(())

    def done(self) -> bool:
        return self._done

    def cancelled(self) -> bool:
        return self._cancelled

    def peer(self) -> str:
        return "in-process"

    def peer_identities(self) -> None:
        return None

    def peer_identity_key(self) -> None:
        return None

    def auth_context(self) -> dict[str, Any]:
        return {}

    def set_compression(self, compression: grpc.Compression) -> None:
        """Nothing is compressed in process."""

    def disable_next_message_compression(self) -> None:
        """Nothing is compressed in process."""

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        raise NotImplementedError("in-process calls take no done callbacks")

    async def read(self) -> NoReturn:
        raise NotImplementedError("the gateway declares no client-streaming RPCs")

    async def write(self, message: Any) -> NoReturn:
        raise NotImplementedError("streamed answers are yielded by the servicer")
