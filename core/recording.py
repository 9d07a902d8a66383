"""The hook every call reports through, so the log pipeline sees each request exactly once.

The servicer opens a CallTrace per call and tells it what happened; `finish()` runs on
success, failure or cancellation (only its first call counts), before the answer's last
message goes out. core/logs/ implements it; NullRecorder does nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from core.auth import Principal
from core.errors import GatewayError
from core.providers.base import ChatEvent
from gateway.v1.chat_pb2 import ChatParams
from gateway.v1.route_service_pb2 import EmbedRequest, EmbedResponse


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who called, with what metadata, when."""

    request_id: str
    log_id: str
    """Id of the call's log record: the request id, made unique when the caller chose it."""
    principal: Principal
    metadata: Mapping[str, str]
    stream: bool
    created_at: int  # epoch ms
    started_ns: int  # time.perf_counter_ns() at arrival, for latencies
    api: str = "grpc"
    """The API the call came in through (core/inbound.py)."""


class CallTrace(Protocol):
    def attempt(self, target: str, provider_account: str) -> None:
        """An attempt starts against `target` (`account/model`) of `provider_account`."""
        ...

    def attempt_done(
        self, status: int, error_code: str, input_tokens: int, output_tokens: int, cost: float
    ) -> None:
        """The current attempt ended with `status` (200 when it answered), using this much."""
        ...

    def event(self, event: ChatEvent) -> None:
        """A provider event was passed on to the caller."""
        ...

    def embedded(self, response: EmbedResponse) -> None:
        """An embedding call succeeded."""
        ...

    def failed(self, error: GatewayError) -> None:
        """The call ended with this error."""
        ...

    def cancelled(self) -> None:
        """The caller went away before the end."""
        ...

    def finish(self) -> None:
        """The call is over, or its answer complete: record it (once, never raising).

        The record is durable on return, so call it before the answer's last message."""
        ...


class CallRecorder(Protocol):
    def chat(self, context: CallContext, params: ChatParams) -> CallTrace: ...

    def embed(self, context: CallContext, request: EmbedRequest) -> CallTrace: ...


class _NullTrace:
    def attempt(self, target: str, provider_account: str) -> None: ...
    def attempt_done(
        self, status: int, error_code: str, input_tokens: int, output_tokens: int, cost: float
    ) -> None: ...
    def event(self, event: ChatEvent) -> None: ...
    def embedded(self, response: EmbedResponse) -> None: ...
    def failed(self, error: GatewayError) -> None: ...
    def cancelled(self) -> None: ...
    def finish(self) -> None: ...


class NullRecorder:
    """Records nothing."""

    def chat(self, context: CallContext, params: ChatParams) -> CallTrace:
        return _NullTrace()

    def embed(self, context: CallContext, request: EmbedRequest) -> CallTrace:
        return _NullTrace()
