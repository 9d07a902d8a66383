"""The CallRecorder that logs: each call's trace becomes exactly one LogRecord.

While the call runs a trace only keeps references and timestamps; `finish()` builds the
record (the protos become JSON bodies) and the pipeline journals it before the answer's last
message goes out, so an answered call's record survives a kill -9. Tokens and cost are the
sums over the call's attempts, as the router reported and priced them (a failed attempt the
provider billed counts too).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from codec import chat_params_to_json, chat_result_to_json
from codec.embeddings import embed_request_to_json, embed_response_to_json
from core.errors import GatewayError
from core.logs.pipeline import Deferred
from core.metadata import LOG_REQUEST_KEY
from core.metrics import RequestMetrics
from core.providers.assembler import StreamAssembler
from core.providers.base import ChatEvent
from core.recording import CallContext, CallTrace
from core.store.base import Attempt, LogRecord
from gateway.v1.chat_pb2 import ChatDelta, ChatParams, ChatResult, Usage
from gateway.v1.route_service_pb2 import EmbedRequest, EmbedResponse

log = logging.getLogger(__name__)

CANCELLED = "cancelled"
CANCELLED_HTTP_STATUS = 499


@dataclass(frozen=True, slots=True)
class LogRecorder:
    """Hands each finished call to `submit` (the pipeline's, which never blocks or raises)."""

    submit: Callable[[Deferred], None]
    metrics: RequestMetrics | None = None

    def chat(self, context: CallContext, params: ChatParams) -> CallTrace:
        return CallLog(self, context, params, None)

    def embed(self, context: CallContext, request: EmbedRequest) -> CallTrace:
        return CallLog(self, context, None, request)


class CallLog:
    """One call's trace; once finished, the pipeline item whose `build()` makes its record."""

    __slots__ = (
        "_answered_ns",
        "_attempt_ns",
        "_attempts",
        "_cancelled",
        "_context",
        "_cost",
        "_deltas",
        "_embed_request",
        "_embedded",
        "_end_ns",
        "_error",
        "_first_ns",
        "_input_tokens",
        "_output_tokens",
        "_params",
        "_provider_account",
        "_recorder",
        "_resolved_model",
        "_result",
        "_routed_ns",
    )

    def __init__(
        self,
        recorder: LogRecorder,
        context: CallContext,
        params: ChatParams | None,
        embed_request: EmbedRequest | None,
    ) -> None:
        self._recorder = recorder
        self._context = context
        self._params = params
        self._embed_request = embed_request
        self._resolved_model = ""
        self._provider_account = ""
        self._routed_ns = 0
        self._answered_ns = 0  # when the provider's answer (or failure) was complete
        self._first_ns = 0
        self._end_ns = 0
        self._result: ChatResult | None = None
        self._embedded: EmbedResponse | None = None
        self._deltas: list[ChatDelta] = []
        self._error: GatewayError | None = None
        self._cancelled = False
        self._attempts: list[Attempt] = []
        self._attempt_ns = 0
        # Summed over every attempt, as the router priced them.
        self._input_tokens = 0
        self._output_tokens = 0
        self._cost = 0.0

    # --- CallTrace: cheap, on the request path
    def attempt(self, target: str, provider_account: str) -> None:
        self._resolved_model = target
        self._provider_account = provider_account
        self._attempt_ns = time.perf_counter_ns()
        if not self._routed_ns:
            self._routed_ns = self._attempt_ns

    def attempt_done(
        self, status: int, error_code: str, input_tokens: int, output_tokens: int, cost: float
    ) -> None:
        latency_ms = (time.perf_counter_ns() - self._attempt_ns) / 1e6
        self._attempts.append(
            Attempt(
                self._resolved_model,
                status,
                error_code,
                latency_ms,
                input_tokens,
                output_tokens,
                cost,
            )
        )
        self._input_tokens += input_tokens
        self._output_tokens += output_tokens
        self._cost += cost

    def event(self, event: ChatEvent) -> None:
        if not self._first_ns:
            self._first_ns = time.perf_counter_ns()
        if isinstance(event, ChatResult):
            self._answered_ns = time.perf_counter_ns()
            self._result = event
            self._deltas.clear()  # the result holds the whole answer
        elif self._context.stream:
            self._deltas.append(event)

    def embedded(self, response: EmbedResponse) -> None:
        self._answered_ns = time.perf_counter_ns()
        self._embedded = response

    def failed(self, error: GatewayError) -> None:
        self._answered_ns = self._answered_ns or time.perf_counter_ns()
        self._error = error

    def cancelled(self) -> None:
        self._cancelled = True

    def finish(self) -> None:
        if self._end_ns:
            return  # recorded when the answer was complete, before its last message
        try:
            self._end_ns = time.perf_counter_ns()
            self._recorder.submit(self)
        except Exception:  # finish() must never raise into the servicer
            log.exception("could not queue the log record of %s", self._context.request_id)

    # --- Deferred: built once, when submitted
    def build(self) -> LogRecord:
        context = self._context
        ok = self._error is None and not self._cancelled
        input_tokens, output_tokens, cost = self._input_tokens, self._output_tokens, self._cost
        status = "success" if ok else "error"
        http_status, error_code, error_message = self._outcome()
        latency_ms = (self._end_ns - context.started_ns) / 1e6
        request_body, response_body = self._bodies()
        principal = context.principal
        record = LogRecord(
            id=context.log_id,
            created_at=context.created_at,
            model=self._requested_model(),
            resolved_model=self._resolved_model,
            provider_account=self._provider_account,
            subject=principal.subject,
            key_id=principal.key_id,
            teams=principal.teams,
            status=status,
            http_status=http_status,
            stream=context.stream,
            api=context.api,
            latency_ms=latency_ms,
            metadata=context.metadata,
            attempts=tuple(self._attempts),
            error_code=error_code,
            error_message=error_message,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=input_tokens + output_tokens,
            cost=cost,
            ttft_ms=(self._first_ns - context.started_ns) / 1e6
            if context.stream and self._first_ns
            else None,
            upstream_ms=self._upstream_ms(),
            request_body=request_body,
            response_body=response_body,
        )
        if self._recorder.metrics is not None:
            self._recorder.metrics.observe(record)
        return record

    def _upstream_ms(self) -> float | None:
        # From handing the call to the provider to its complete answer (or failure): for a
        # stream that includes the time the caller took to read each chunk.
        if not self._routed_ns:
            return None
        return ((self._answered_ns or self._end_ns) - self._routed_ns) / 1e6

    def _requested_model(self) -> str:
        if self._params is not None:
            return self._params.model
        return self._embed_request.model if self._embed_request is not None else ""

    def _outcome(self) -> tuple[int, str, str]:
        if self._error is not None:
            return self._error.http_code(), self._error.reason, self._error.message
        if self._cancelled:
            return CANCELLED_HTTP_STATUS, CANCELLED, "the caller cancelled the request"
        return 200, "", ""

    def _bodies(self) -> tuple[str | None, str | None]:
        if self._context.metadata.get(LOG_REQUEST_KEY) == "false":
            return None, None
        try:
            if self._params is not None:
                return _json(chat_params_to_json(self._params)), _json(self._chat_response())
            if self._embed_request is not None:
                response = self._embedded
                return _json(embed_request_to_json(self._embed_request)), (
                    _json(embed_response_to_json(response)) if response is not None else None
                )
        except Exception:  # a body that cannot be rendered must not cost the record
            log.exception("could not render the bodies of %s", self._context.request_id)
        return None, None

    def _chat_response(self) -> dict[str, Any] | None:
        if self._result is not None:
            return chat_result_to_json(self._result)
        if not self._deltas:
            return None
        # A stream cut or cancelled before its result: log what the caller did receive.
        assembler = StreamAssembler()
        for delta in self._deltas:
            assembler.add(delta)
        return chat_result_to_json(assembler.result(Usage(), model=self._resolved_model))


def _json(body: Mapping[str, Any] | None) -> str | None:
    # Rendered once, here: stores keep this text and the log API returns it unchanged.
    return None if body is None else orjson.dumps(body).decode()
