"""RouteService: chat (unary and streaming), models, embeddings, all through the router."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

import grpc

from core.errors import GatewayError, InternalError
from core.ids import log_id_for
from core.inbound import inbound_api
from core.inprocess.context import InProcessContext
from core.interceptors import current_principal, current_request_id, request_id_from_caller
from core.metadata import from_call as metadata_from_call
from core.providers.base import ChatEvent
from core.recording import CallContext, CallRecorder, CallTrace, NullRecorder
from core.router.router import Router
from core.router.snapshot import SnapshotSource
from core.servicers.ready_batches import ready_batches
from gateway.v1 import route_service_pb2 as pb, route_service_pb2_grpc as pb_grpc
from gateway.v1.chat_pb2 import ChatDelta, ChatResult

Context = grpc.aio.ServicerContext[Any, Any]

_KINDS = {"chat": pb.MODEL_KIND_CHAT, "embedding": pb.MODEL_KIND_EMBEDDING}


class RouteServicer(pb_grpc.RouteServiceServicer):
    """Serves RouteService through one router; every call is reported to the recorder."""

    def __init__(
        self,
        router: Router,
        source: SnapshotSource,
        recorder: CallRecorder | None = None,
    ) -> None:
        self._router = router
        self._source = source
        self._recorder = recorder or NullRecorder()

    async def Route(self, request: pb.RouteRequest, context: Context) -> pb.RouteResponse:
        call = _call_context(request.metadata, context, stream=False)
        trace = self._recorder.chat(call, request.params)
        try:
            run = await self._router.start_chat(
                request.params, call, trace, stream=False, deadline=_deadline(context)
            )
            result: ChatResult | None = None
            try:
                async for event in run.events:
                    trace.event(event)
                    if isinstance(event, ChatResult):
                        result = event
            finally:
                await run.aclose()
            if result is None:
                raise InternalError(f"{run.resolved_model}: provider returned no result")
            await context.send_initial_metadata(_identified(call, run.headers()))
            return pb.RouteResponse(result=result)
        except BaseException as error:
            _report(trace, error)
            raise
        finally:
            trace.finish()

    async def StreamRoute(
        self, request: pb.StreamRouteRequest, context: Context
    ) -> AsyncIterator[pb.StreamRouteResponse]:
        call = _call_context(request.metadata, context, stream=True)
        trace = self._recorder.chat(call, request.params)
        try:
            run = await self._router.start_chat(
                request.params, call, trace, stream=True, deadline=_deadline(context)
            )
            events = run.events
            try:
                # Headers go out only once the answer is committed (its first event), so a
                # failure before it (after every retry and fallback) is a plain error status
                # (an HTTP error for facade callers), never a broken stream.
                event = await anext(events, None)
                await context.send_initial_metadata(_identified(call, run.headers()))
                if event is not None:
                    for message in _messages([event], trace, batched=False):
                        yield message
                    batched = request.batch_deltas and not isinstance(context, InProcessContext)
                    batches = ready_batches(events) if batched else _singly(events)
                    async with aclosing(batches):
                        async for batch in batches:
                            for message in _messages(batch, trace, batched=batched):
                                yield message
            finally:
                # Closing the chain promptly closes the upstream request when the caller leaves.
                await run.aclose()
        except BaseException as error:
            _report(trace, error)
            raise
        finally:
            trace.finish()

    async def ListModels(
        self, request: pb.ListModelsRequest, context: Context
    ) -> pb.ListModelsResponse:
        principal = current_principal()  # a key with an allow-list sees only those models
        return pb.ListModelsResponse(
            models=[
                pb.Model(
                    id=r.id,
                    provider_account=r.account.name,
                    provider=r.account.provider,
                    kind=_KINDS[r.model.kind],
                )
                for r in self._source.current.models.routes()
                if not principal.models or r.id in principal.models
            ]
        )

    async def Embed(self, request: pb.EmbedRequest, context: Context) -> pb.EmbedResponse:
        call = _call_context(request.metadata, context, stream=False)
        trace = self._recorder.embed(call, request)
        try:
            outcome = await self._router.embed(request, call, trace, deadline=_deadline(context))
            await context.send_initial_metadata(_identified(call, outcome.headers))
            return outcome.response
        except BaseException as error:
            _report(trace, error)
            raise
        finally:
            trace.finish()


async def _singly(events: AsyncIterator[ChatEvent]) -> AsyncGenerator[list[ChatEvent], None]:
    async for event in events:
        yield [event]


def _messages(
    events: list[ChatEvent], trace: CallTrace, *, batched: bool
) -> list[pb.StreamRouteResponse]:
    """The stream messages of `events`: deltas one by one, or together when `batched`."""
    messages: list[pb.StreamRouteResponse] = []
    deltas: list[ChatDelta] = []
    for event in events:
        trace.event(event)
        if isinstance(event, ChatResult):
            messages.extend(_delta_messages(deltas, batched=batched))
            deltas = []
            # The answer is whole: its record is journaled (survives a kill -9) before the
            # last message, on which callers end (the facade's [DONE]).
            trace.finish()
            messages.append(pb.StreamRouteResponse(result=event))
        else:
            deltas.append(event)
    messages.extend(_delta_messages(deltas, batched=batched))
    return messages


def _delta_messages(deltas: list[ChatDelta], *, batched: bool) -> list[pb.StreamRouteResponse]:
    if batched and len(deltas) > 1:
        return [pb.StreamRouteResponse(deltas=pb.ChatDeltas(deltas=deltas))]
    return [pb.StreamRouteResponse(delta=delta) for delta in deltas]


def _call_context(metadata: Mapping[str, str], context: Context, *, stream: bool) -> CallContext:
    request_id = current_request_id()
    call_metadata = context.invocation_metadata() or ()
    return CallContext(
        request_id=request_id,
        log_id=log_id_for(request_id, from_caller=request_id_from_caller()),
        principal=current_principal(),
        metadata=metadata_from_call(metadata, call_metadata),
        api=inbound_api(call_metadata),
        stream=stream,
        created_at=time.time_ns() // 1_000_000,
        started_ns=time.perf_counter_ns(),
    )


def _deadline(context: Context) -> float | None:
    remaining = context.time_remaining()
    return None if remaining is None else time.monotonic() + remaining


def _report(trace: CallTrace, error: BaseException) -> None:
    if isinstance(error, GatewayError):
        trace.failed(error)
    elif isinstance(error, (asyncio.CancelledError, GeneratorExit)):
        trace.cancelled()
    elif not isinstance(error, grpc.aio.AbortError):
        trace.failed(InternalError("internal error"))


LOG_ID_KEY = "x-tfy-log-id"
"""The id of the call's log record, sent when it is not the request id: for a caller's own
`x-request-id` it is `<that id>.<suffix>` (callers reuse ids; each call has its own record)."""


def _identified(
    call: CallContext, headers: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    if call.log_id == call.request_id:  # the common case: one header less on every answer
        return (("x-request-id", call.request_id), *headers)
    return (("x-request-id", call.request_id), (LOG_ID_KEY, call.log_id), *headers)
