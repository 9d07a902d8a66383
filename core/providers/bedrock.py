"""AWS Bedrock: chat over the Converse API (ConverseStream for streams), embeddings over
InvokeModel (Amazon Titan and Cohere), every request SigV4-signed over its exact bytes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from functools import partial
from typing import Any
from urllib.parse import quote

import orjson

from codec import struct_to_dict
from core.config.models import ProviderAccount, model_id
from core.errors import GatewayError, UpstreamFailed, UpstreamStreamCut
from core.providers.base import ChatCall, ChatEvent
from core.providers.bedrock_embed import embed_bodies, embedding_result
from core.providers.bedrock_errors import bedrock_status_error
from core.providers.bedrock_eventstream import converse_events
from core.providers.bedrock_request import converse_body
from core.providers.bedrock_response import ConverseStream, estimated_usage, result_from_converse
from core.providers.bedrock_signing import SigV4Signer
from core.providers.bedrock_upstream import BedrockUpstream
from core.providers.bounded import gather_bounded
from core.providers.transport import HttpUpstream
from core.providers.upstream_errors import too_large_error
from gateway.v1.route_service_pb2 import EmbedRequest, EmbedResponse

_MALFORMED = (KeyError, TypeError, ValueError, AttributeError)
"""What reading an answer of an unexpected shape raises."""

_SIGNED_HEADERS = {"content-type": "application/json", "accept": "application/json"}
"""Headers sent and signed with every request (the session's own content-type is the same)."""
_STREAM_HEADERS = {
    "content-type": "application/json",
    "accept": "application/vnd.amazon.eventstream",
}
MAX_CONCURRENT_INVOKES = 8
"""InvokeModel calls one embedding request runs at a time (Titan takes one text per call):
enough to keep a batch fast, few enough that one big batch neither fills the account's
connection pool nor trips Bedrock's per-account request rate for everyone else."""

_log = logging.getLogger(__name__)


def default_base_url(region: str) -> str:
    """Bedrock's runtime endpoint for `region`."""
    return f"https://bedrock-runtime.{region}.amazonaws.com"


def model_path(model: str, operation: str) -> str:
    """`/model/{modelId}/{operation}`, the id percent-encoded whole: ids hold `:` and
    inference-profile ARNs hold `/`."""
    return f"/model/{quote(model, safe='')}/{operation}"


class BedrockProvider:
    """A Bedrock account: one region, one set of AWS credentials (found on the first call)."""

    def __init__(
        self,
        account: ProviderAccount,
        *,
        upstream: BedrockUpstream | None = None,
        signer: SigV4Signer | None = None,
    ) -> None:
        assert account.region is not None  # the config model requires it for bedrock
        self._account = account.name
        self._base_url = (account.base_url or default_base_url(account.region)).rstrip("/")
        self._max_frame_bytes = account.max_response_bytes
        self._signer = signer or SigV4Signer.from_account(account)
        # Signed headers are passed per request; account headers ride along unsigned.
        self._upstream: BedrockUpstream = upstream or HttpUpstream(
            account, base_url=self._base_url, status_error_of=self._status_error
        )

    def _status_error(
        self,
        status: int,
        body: bytes,
        *,
        label: str,
        secrets: Sequence[str] = (),
        headers: Mapping[str, str] | None = None,
    ) -> GatewayError:
        # The credentials are found (and refreshed) after the transport is built: they are
        # read here, per error, so a message never quotes the ones in use.
        return bedrock_status_error(
            status, body, label=label, secrets=(*secrets, *self._signer.secrets()), headers=headers
        )

    async def _signed(self, path: str, data: bytes, headers: dict[str, str]) -> dict[str, str]:
        signature = await self._signer.sign("POST", self._base_url + path, data, headers)
        return {**headers, **signature}

    async def chat(self, call: ChatCall) -> AsyncIterator[ChatEvent]:
        data = orjson.dumps(converse_body(call.params))
        if not call.stream:
            path = model_path(call.model, "converse")
            headers = await self._signed(path, data, _SIGNED_HEADERS)
            answer = await self._upstream.post_bytes(path, data, label=call.label, headers=headers)
            try:
                result = result_from_converse(answer)
            except _MALFORMED as exc:
                raise UpstreamFailed(f"{call.label}: upstream answered an unexpected body") from exc
            yield result
            return

        path = model_path(call.model, "converse-stream")
        headers = await self._signed(path, data, _STREAM_HEADERS)
        stream = ConverseStream()
        async with self._upstream.stream_bytes(
            path, data, label=call.label, headers=headers
        ) as chunks:
            events = converse_events(
                chunks,
                label=call.label,
                max_frame_bytes=self._max_frame_bytes,
                too_large=lambda: too_large_error(
                    call.label, self._max_frame_bytes, what="stream event"
                ),
                secrets=self._signer.secrets(),
            )
            async for kind, event in events:
                try:
                    delta = stream.feed(kind, event)
                except _MALFORMED as exc:
                    raise UpstreamFailed(
                        f"{call.label}: upstream sent an unexpected event"
                    ) from exc
                if delta is not None:
                    yield delta
                if stream.done:
                    break
        if not stream.stopped:
            raise UpstreamStreamCut(f"{call.label}: upstream stream ended without messageStop")
        result = stream.result()
        if not stream.done:
            # The answer is whole but its `metadata` (usage) never came. Every result carries
            # usage, which budgets and cost are charged from: the gateway's own estimate
            # stands in, since zeros would be taken for a free call.
            result.usage.CopyFrom(estimated_usage(call.params, result))
            _log.warning("%s: stream ended without usage metadata; usage estimated", call.label)
        yield result

    async def embed(self, request: EmbedRequest, model: str) -> EmbedResponse:
        label = model_id(self._account, model)
        bodies = embed_bodies(request, model, struct_to_dict(request.extras))
        path = model_path(model, "invoke")

        async def invoke(body: dict[str, Any]) -> tuple[Any, Mapping[str, str]]:
            data = orjson.dumps(body)
            # Signed once its turn has come: a request waiting for a slot must not age its
            # signature (AWS refuses one more than five minutes old).
            headers = await self._signed(path, data, _SIGNED_HEADERS)
            return await self._upstream.post_bytes_with_headers(
                path, data, label=label, headers=headers
            )

        # Titan embeds one text per call and Cohere a batch: the calls run a few at a time.
        answers = await gather_bounded(
            [partial(invoke, body) for body in bodies], MAX_CONCURRENT_INVOKES
        )
        try:
            return embedding_result(model, bodies, answers)
        except _MALFORMED as exc:
            raise UpstreamFailed(f"{label}: upstream answered an unexpected body") from exc

    async def aclose(self) -> None:
        await self._upstream.aclose()
