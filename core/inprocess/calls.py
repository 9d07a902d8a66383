"""In-process calls: the servicer runs in a task of its own, as on a gRPC server.

The task keeps the interceptor's context variables (request id, caller) out of the caller's
context, and cancelling it is what a cancelled gRPC call does to its handler. A deadline
cancels the handler and ends the call with DEADLINE_EXCEEDED.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from typing import Any

import grpc

from core.inprocess.context import InProcessContext
from core.inprocess.methods import Metadata, MethodTable
from core.inprocess.pipe import Pipe

log = logging.getLogger(__name__)

STREAM_BUFFER = 16
"""Streamed answers a servicer may run ahead of its caller."""


class _Failed(Exception):
    """The call ended with a status other than OK (already set on the context)."""


_FAILED = object()


def _metadata(pairs: Metadata) -> grpc.aio.Metadata:
    return grpc.aio.Metadata.from_tuple(pairs)


def _rpc_error(context: InProcessContext) -> grpc.aio.AioRpcError:
    initial = context.initial.result() if context.initial.done() else ()
    return grpc.aio.AioRpcError(
        context.status, _metadata(initial), _metadata(context.trailing), context.status_details
    )


async def _serve(
    table: MethodTable,
    method: str,
    context: InProcessContext,
    timeout: float | None,  # noqa: ASYNC109 - the call's gRPC deadline, applied below
    kind: str,
    body: Callable[[Any], Any],
) -> Any:
    """Runs `body` on the handler's `kind` behaviour (`unary_unary`, `unary_stream`) under
    the deadline; every ending sets the context's status."""
    try:
        handler = await table.handler(method, context.invocation_metadata())
        behavior = None if handler is None else getattr(handler, kind)
        if behavior is None:
            context.finish(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
            raise _Failed
        async with asyncio.timeout(timeout):
            result = await body(behavior)
    except grpc.aio.AbortError:
        context.finish()
        raise _Failed from None
    except TimeoutError:
        context.finish(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
        raise _Failed from None
    except asyncio.CancelledError:
        context.finish(grpc.StatusCode.CANCELLED, "Locally cancelled by application!")
        raise
    except _Failed:
        raise
    except Exception:
        # The gateway's interceptor maps every error; this is a servicer outside it.
        log.exception("unexpected error serving %s in process", method)
        context.finish(grpc.StatusCode.UNKNOWN, "Unexpected error")
        raise _Failed from None
    context.finish()
    return result


class _Call:
    """What both kinds of call share: status, metadata, cancellation."""

    def __init__(self, context: InProcessContext, task: asyncio.Task[Any]) -> None:
        self._context = context
        self._task = task

    def cancel(self) -> bool:
        if self._task.done():
            return False
        return self._task.cancel()

    def cancelled(self) -> bool:
        return self._task.cancelled()

    def done(self) -> bool:
        return self._task.done()

    def time_remaining(self) -> float | None:
        return self._context.time_remaining()

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        self._task.add_done_callback(lambda _: callback(self))

    async def initial_metadata(self) -> grpc.aio.Metadata:
        initial = self._context.initial
        # Shielded: a caller giving up on the headers must not break them for the call.
        return _metadata(initial.result() if initial.done() else await asyncio.shield(initial))

    async def trailing_metadata(self) -> grpc.aio.Metadata:
        await self._ended()
        return _metadata(self._context.trailing)

    async def code(self) -> grpc.StatusCode:
        await self._ended()
        return self._context.status

    async def details(self) -> str:
        await self._ended()
        return self._context.status_details

    async def wait_for_connection(self) -> None:
        """There is no connection to wait for."""

    async def _ended(self) -> None:
        if not self._task.done():
            await asyncio.wait((self._task,))


class UnaryUnaryCall(_Call, grpc.aio.UnaryUnaryCall[Any, Any]):
    def __init__(
        self,
        table: MethodTable,
        method: str,
        request: Any,
        context: InProcessContext,
        timeout: float | None,
    ) -> None:
        async def body(behavior: Callable[..., Awaitable[Any]]) -> Any:
            return await behavior(request, context)

        async def serve() -> Any:
            try:
                return await _serve(table, method, context, timeout, "unary_unary", body)
            except _Failed:
                return _FAILED  # not raised in the task: a caller that left would never see it

        super().__init__(context, asyncio.create_task(serve()))

    def __await__(self) -> Generator[Any, None, Any]:
        response = yield from self._task.__await__()
        if response is _FAILED:
            raise _rpc_error(self._context)
        return response


class UnaryStreamCall(_Call, grpc.aio.UnaryStreamCall[Any, Any]):
    def __init__(
        self,
        table: MethodTable,
        method: str,
        request: Any,
        context: InProcessContext,
        timeout: float | None,
    ) -> None:
        self._pipe: Pipe[Any] = Pipe(STREAM_BUFFER)
        pipe = self._pipe

        async def body(behavior: Callable[..., AsyncGenerator[Any, None]]) -> None:
            responses = behavior(request, context)
            try:
                async for response in responses:
                    await pipe.put(response)
            finally:
                await responses.aclose()

        async def serve() -> None:
            try:
                await _serve(table, method, context, timeout, "unary_stream", body)
            except _Failed:
                pass  # the status is on the context; the reader raises it after the last answer
            finally:
                pipe.close()

        super().__init__(context, asyncio.create_task(serve()))

    async def read(self) -> Any:
        response = await self._pipe.get()
        if response is not None:
            return response
        if self._task.cancelled():
            raise asyncio.CancelledError
        await self._ended()
        if self._context.status is grpc.StatusCode.OK:
            return grpc.aio.EOF
        raise _rpc_error(self._context)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._responses()

    async def _responses(self) -> AsyncIterator[Any]:
        while (response := await self.read()) is not grpc.aio.EOF:
            yield response
