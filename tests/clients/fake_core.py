"""A scripted RouteService on a real grpc.aio server, for client and facade tests.

The model name picks the behaviour, so tests drive it through the public API:

    echo                               answer (or stream word by word) the last user message
    fail/<CODE>/<reason>/<http>[/<p>]  end with CODE and ErrorInfo(reason, http_status, param)
    bare/<CODE>                        end with CODE and no details
    cut                                stream two deltas, then fail UNAVAILABLE (502)
    noresult                           stream one delta, then end OK without a result
    big/<n>                            answer (or end the stream with) a text of n bytes
    hang                               stream one delta, then wait until cancelled
    slow                               never answer (for deadlines)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from gateway.v1 import chat_pb2, route_service_pb2 as pb, route_service_pb2_grpc as pb_grpc

Context = grpc.aio.ServicerContext[Any, Any]
REQUEST_ID = "req-123"


@dataclass
class Seen:
    """One call as the server received it."""

    method: str
    metadata: dict[str, str | bytes]
    request: Any


@dataclass
class FakeCore(pb_grpc.RouteServiceServicer):
    """Records calls; `cancelled` is set when a `hang` stream is cancelled by its caller."""

    calls: list[Seen] = field(default_factory=list)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    hanging: asyncio.Event = field(default_factory=asyncio.Event)

    def _record(self, method: str, request: Any, context: Context) -> None:
        metadata = dict(context.invocation_metadata() or ())
        self.calls.append(Seen(method, metadata, request))

    @property
    def last(self) -> Seen:
        return self.calls[-1]

    async def Route(self, request: pb.RouteRequest, context: Context) -> pb.RouteResponse:
        self._record("Route", request, context)
        model = request.params.model
        await _maybe_fail(model, context)
        if model == "slow":
            await asyncio.Event().wait()
        await context.send_initial_metadata(_headers(context, model))
        return pb.RouteResponse(result=_result(request.params, _big_text(model)))

    async def StreamRoute(
        self, request: pb.StreamRouteRequest, context: Context
    ) -> AsyncIterator[pb.StreamRouteResponse]:
        self._record("StreamRoute", request, context)
        model = request.params.model
        await _maybe_fail(model, context)
        if model == "slow":
            await asyncio.Event().wait()
        await context.send_initial_metadata(_headers(context, model))
        words = _last_user_text(request.params).split(" ")
        for i, word in enumerate(words):
            if model == "cut" and i == 2:
                await _abort(
                    context,
                    grpc.StatusCode.UNAVAILABLE,
                    "upstream cut",
                    _info("upstream_stream_cut", 502),
                )
            text = word if i == 0 else " " + word
            role = chat_pb2.ROLE_ASSISTANT if i == 0 else chat_pb2.ROLE_UNSPECIFIED
            yield pb.StreamRouteResponse(delta=chat_pb2.ChatDelta(role=role, content=text))
            if model == "noresult":
                return
            if model == "hang":
                self.hanging.set()
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    self.cancelled.set()
                    raise
        yield pb.StreamRouteResponse(result=_result(request.params, _big_text(model)))

    async def ListModels(
        self, request: pb.ListModelsRequest, context: Context
    ) -> pb.ListModelsResponse:
        self._record("ListModels", request, context)
        return pb.ListModelsResponse(
            models=[
                pb.Model(
                    id="mock-main/echo",
                    provider_account="mock-main",
                    provider="mock",
                    kind=pb.MODEL_KIND_CHAT,
                ),
                pb.Model(
                    id="mock-main/embed",
                    provider_account="mock-main",
                    provider="mock",
                    kind=pb.MODEL_KIND_EMBEDDING,
                ),
            ]
        )

    async def Embed(self, request: pb.EmbedRequest, context: Context) -> pb.EmbedResponse:
        self._record("Embed", request, context)
        await _maybe_fail(request.model, context)
        await context.send_initial_metadata(_headers(context, request.model))
        return pb.EmbedResponse(
            model=request.model,
            embeddings=[
                pb.Embedding(index=i, values=[0.5, float(len(t))])
                for i, t in enumerate(request.inputs)
            ],
            usage=chat_pb2.Usage(
                input_tokens=len(request.inputs), total_tokens=len(request.inputs)
            ),
        )


async def start_fake_core(
    options: Sequence[tuple[str, Any]] = (),
) -> tuple[grpc.aio.Server, FakeCore, str]:
    """A started server on an ephemeral port (with grpc `options`), its servicer and target."""
    server = grpc.aio.server(options=options)
    core = FakeCore()
    pb_grpc.add_RouteServiceServicer_to_server(core, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, core, f"127.0.0.1:{port}"


def _info(
    reason: str, http_status: int, param: str | None = None, **extra: str
) -> error_details_pb2.ErrorInfo:
    metadata = {"http_status": str(http_status), **extra}
    if param:
        metadata["param"] = param
    return error_details_pb2.ErrorInfo(reason=reason, domain="llm-gateway", metadata=metadata)


async def _abort(
    context: Context, code: grpc.StatusCode, message: str, info: error_details_pb2.ErrorInfo | None
) -> None:
    if info is not None:
        detail = any_pb2.Any()
        detail.Pack(info)
        status = status_pb2.Status(code=code.value[0], message=message, details=[detail])
        context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
    await context.abort(code, message)


async def _maybe_fail(model: str, context: Context) -> None:
    parts = model.split("/")
    if parts[0] == "fail":
        code = grpc.StatusCode[parts[1]]
        extra = {"retry_after_seconds": "7"} if parts[2] == "rate_limited" else {}
        param = parts[4] if len(parts) > 4 else None
        await _abort(
            context, code, f"{parts[2]} happened", _info(parts[2], int(parts[3]), param, **extra)
        )
    if parts[0] == "bare":
        await _abort(context, grpc.StatusCode[parts[1]], f"bare {parts[1]}", None)


def _headers(context: Context, model: str) -> tuple[tuple[str, str], ...]:
    sent = dict(context.invocation_metadata() or ())
    request_id = sent.get("x-request-id", REQUEST_ID)
    return (("x-request-id", str(request_id)), ("x-tfy-resolved-model", f"mock-main/{model}"))


def _last_user_text(params: chat_pb2.ChatParams) -> str:
    for message in reversed(params.messages):
        if message.role == chat_pb2.ROLE_USER and message.HasField("text"):
            return message.text
    return "hello there world"


def _big_text(model: str) -> str | None:
    parts = model.split("/")
    return "x" * int(parts[1]) if parts[0] == "big" else None


def _result(params: chat_pb2.ChatParams, text: str | None = None) -> chat_pb2.ChatResult:
    text = _last_user_text(params) if text is None else text
    words = len(text.split(" "))
    return chat_pb2.ChatResult(
        id=f"chatcmpl-{REQUEST_ID}",
        model=f"mock-main/{params.model}",
        choices=[
            chat_pb2.Choice(
                index=0,
                message=chat_pb2.Message(role=chat_pb2.ROLE_ASSISTANT, text=text),
                finish_reason=chat_pb2.FINISH_REASON_STOP,
            )
        ],
        usage=chat_pb2.Usage(input_tokens=3, output_tokens=words, total_tokens=3 + words),
    )


@pytest.fixture
async def core_server() -> AsyncIterator[tuple[FakeCore, str]]:
    """A FakeCore on a real ephemeral port: (the servicer, its target)."""
    server, core, target = await start_fake_core()
    try:
        yield core, target
    finally:
        await server.stop(None)


@pytest.fixture
def core(core_server: tuple[FakeCore, str]) -> FakeCore:
    """The running FakeCore, to script answers and read what it received."""
    return core_server[0]
