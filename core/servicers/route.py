"""RouteService: chat (unary and streaming), models, embeddings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from core.errors import InternalError
from core.interceptors import current_request_id
from core.models import ModelRegistry
from core.pipeline import ChatPipeline, ChatRun
from gateway.v1 import route_service_pb2 as pb, route_service_pb2_grpc as pb_grpc
from gateway.v1.chat_pb2 import ChatResult

Context = grpc.aio.ServicerContext[Any, Any]

_KINDS = {"chat": pb.MODEL_KIND_CHAT, "embedding": pb.MODEL_KIND_EMBEDDING}


class RouteServicer(pb_grpc.RouteServiceServicer):
    """Serves RouteService from one pipeline."""

    def __init__(self, pipeline: ChatPipeline, models: ModelRegistry) -> None:
        self._pipeline = pipeline
        self._models = models

    async def Route(self, request: pb.RouteRequest, context: Context) -> pb.RouteResponse:
        run = self._pipeline.start(request.params, request_id=current_request_id(), stream=False)
        result: ChatResult | None = None
        async for event in run.events:
            if isinstance(event, ChatResult):
                result = event
        if result is None:
            raise InternalError(f"{run.resolved_model}: provider returned no result")
        await context.send_initial_metadata(_headers(run))
        return pb.RouteResponse(result=result)

    async def StreamRoute(
        self, request: pb.StreamRouteRequest, context: Context
    ) -> AsyncIterator[pb.StreamRouteResponse]:
        run = self._pipeline.start(request.params, request_id=current_request_id(), stream=True)
        events = run.events
        # Headers go out only once the provider has answered, so an early failure is a plain
        # error status (an HTTP error for facade callers) rather than a broken stream.
        try:
            event = await anext(events, None)
            await context.send_initial_metadata(_headers(run))
            while event is not None:
                if isinstance(event, ChatResult):
                    yield pb.StreamRouteResponse(result=event)
                else:
                    yield pb.StreamRouteResponse(delta=event)
                event = await anext(events, None)
        finally:
            # Closing the chain promptly closes the upstream request when the caller goes away.
            await events.aclose()  # type: ignore[attr-defined]

    async def ListModels(
        self, request: pb.ListModelsRequest, context: Context
    ) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(
            models=[
                pb.Model(
                    id=r.id,
                    provider_account=r.account.name,
                    provider=r.account.provider,
                    kind=_KINDS[r.model.kind],
                )
                for r in self._models.routes()
            ]
        )

    async def Embed(self, request: pb.EmbedRequest, context: Context) -> pb.EmbedResponse:
        route = self._models.resolve(request.model, kind="embedding")
        response = await route.provider.embed(request, route.model.name)
        response.model = route.id
        await context.send_initial_metadata(
            (("x-request-id", current_request_id()), ("x-tfy-resolved-model", route.id))
        )
        return response


def _headers(run: ChatRun) -> tuple[tuple[str, str], ...]:
    return (("x-request-id", current_request_id()), ("x-tfy-resolved-model", run.resolved_model))
