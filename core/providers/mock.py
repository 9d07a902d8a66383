"""The built-in `mock` provider: deterministic answers, simulated tool calls, injectable failures.

Failures are asked for per request with an extra body field, which the gateway passes through
like any unmodeled field (`extra_body={"mock": {...}}` in the OpenAI SDK):
`{"status": 503, "message": "..."}` answers as a provider would with that status (with
`"retry_after": seconds`, as if it sent `Retry-After`), `{"timeout": true}` stalls until the
account's timeout, `{"cut_after": N}` cuts a stream after N deltas, `{"latency_ms": N}`
overrides the account's latency. `{"accounts": {"<account>": {...}}}` applies faults to one
account only (over the others), so a routing test can fail one target and not the next.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
from collections.abc import AsyncIterator, Mapping
from typing import Any

from google.protobuf.struct_pb2 import ListValue, Struct

from codec import struct_to_dict
from core.config.models import ProviderAccount, model_id
from core.errors import UpstreamFailed, UpstreamRejected, UpstreamStreamCut, UpstreamTimeout
from core.providers.base import ChatCall, ChatEvent
from gateway.v1.chat_pb2 import (
    ROLE_ASSISTANT,
    ROLE_TOOL,
    ROLE_USER,
    TOOL_CHOICE_MODE_NONE,
    ChatDelta,
    ChatParams,
    ChatResult,
    Choice,
    FinishReason,
    FunctionCall,
    Message,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from gateway.v1.route_service_pb2 import Embedding, EmbedRequest, EmbedResponse

EMBEDDING_DIMENSIONS = 8
MAX_EMBEDDING_DIMENSIONS = 4096
"""The most `dimensions` answered (OpenAI's largest model has 3,072): a vector is built on
the event loop, so `dimensions: 10**12` would stall every call, and a negative one failed."""


class MockProvider:
    """Answers from the request alone; needs no network."""

    def __init__(self, account: ProviderAccount) -> None:
        self._account = account
        self._options = account.mock

    async def chat(self, call: ChatCall) -> AsyncIterator[ChatEvent]:
        faults = _faults(_mock_extras(call.params), self._account.name)
        await self._pause(faults.get("latency_ms", self._options.latency_ms))
        await self._maybe_fail(call.label, faults)
        message, finish = _answer(call.params, self._options.output_tokens)
        if call.stream:
            cut_after = faults.get("cut_after")
            for number, delta in enumerate(_deltas(message)):
                if cut_after is not None and number >= int(cut_after):
                    raise UpstreamStreamCut(f"{call.label}: stream cut after {number} deltas")
                if number:
                    await self._pause(self._options.chunk_delay_ms)
                yield delta
        usage = _usage(_count_tokens(call.params.messages), _count_tokens([message]))
        yield ChatResult(
            choices=[Choice(index=0, message=message, finish_reason=finish)], usage=usage
        )

    async def embed(self, request: EmbedRequest, model: str) -> EmbedResponse:
        faults = _faults(request.extras, self._account.name)
        await self._maybe_fail(model_id(self._account.name, model), faults)
        dimensions = request.dimensions if request.HasField("dimensions") else EMBEDDING_DIMENSIONS
        if not 1 <= dimensions <= MAX_EMBEDDING_DIMENSIONS:
            raise UpstreamRejected(  # as a provider refuses a size its model lacks
                f"{model_id(self._account.name, model)}: provider answered 400: `dimensions` "
                f"must be between 1 and {MAX_EMBEDDING_DIMENSIONS}; got {dimensions}",
                upstream_status=400,
                param="dimensions",
            )
        texts = _embedding_texts(request)
        embeddings = [
            Embedding(index=i, values=_vector(text, dimensions)) for i, text in enumerate(texts)
        ]
        tokens = sum(len(text.split()) for text in texts)
        return EmbedResponse(embeddings=embeddings, model=request.model, usage=_usage(tokens, 0))

    async def aclose(self) -> None:
        return None

    async def _pause(self, milliseconds: float) -> None:
        if milliseconds > 0:
            await asyncio.sleep(milliseconds / 1000)

    async def _maybe_fail(self, label: str, faults: Mapping[str, Any]) -> None:
        if faults.get("timeout"):
            await asyncio.sleep(self._account.timeout_seconds)
            raise UpstreamTimeout(f"{label}: no answer within {self._account.timeout_seconds:g} s")
        status = faults.get("status")
        if status is None:
            return
        status = int(status)
        message = str(faults.get("message", "simulated failure"))
        retry_after = faults.get("retry_after")
        details = {"retry_after_seconds": f"{float(retry_after):g}"} if retry_after else None
        if 400 <= status < 500:
            raise UpstreamRejected(
                f"{label}: provider answered {status}: {message}",
                upstream_status=status,
                details=details,
            )
        raise UpstreamFailed(
            f"{label}: provider answered {status}: {message}",
            upstream_status=status,
            details=details,
        )


def _mock_extras(params: ChatParams) -> Struct:
    # The mock stands in for every family: a Messages API caller's `mock` arrives with that
    # API's own fields (family_extras), an OpenAI caller's in the extras.
    for family in params.family_extras.values():
        if "mock" in family:
            return family
    return params.extras


def _faults(extras: Struct, account: str) -> Mapping[str, Any]:
    if "mock" not in extras:
        return {}
    value = extras["mock"]
    if not isinstance(value, Struct):
        return {}
    faults = dict(value.items())
    accounts = faults.pop("accounts", None)
    if isinstance(accounts, Struct) and account in accounts:
        own = accounts[account]
        if isinstance(own, Struct):
            faults.update(own.items())
    return faults


def _answer(
    params: ChatParams, output_tokens: int | None
) -> tuple[Message, FinishReason.ValueType]:
    tools = _tools_to_call(params)
    if tools:
        calls = [
            ToolCall(
                id=f"call_{i}",
                type="function",
                function=FunctionCall(
                    name=t.function.name,
                    arguments=json.dumps(_arguments(t), separators=(",", ":")),
                ),
            )
            for i, t in enumerate(tools)
        ]
        return Message(role=ROLE_ASSISTANT, tool_calls=calls), FinishReason.FINISH_REASON_TOOL_CALLS
    if output_tokens is not None:
        text = " ".join(["tok"] * output_tokens)
    else:
        text = _last_text(params.messages) or "ok"
    return Message(role=ROLE_ASSISTANT, text=text), FinishReason.FINISH_REASON_STOP


def _tools_to_call(params: ChatParams) -> list[Tool]:
    # After a tool result the model answers in text, so an agent loop ends.
    if not params.tools or (params.messages and params.messages[-1].role == ROLE_TOOL):
        return []
    choice = params.tool_choice
    if choice.WhichOneof("choice") == "mode" and choice.mode == TOOL_CHOICE_MODE_NONE:
        return []
    if choice.WhichOneof("choice") == "function_name":
        return [t for t in params.tools if t.function.name == choice.function_name][:1]
    parallel = not params.HasField("parallel_tool_calls") or params.parallel_tool_calls
    return list(params.tools) if parallel else [params.tools[0]]


def _arguments(tool: Tool) -> dict[str, Any]:
    defaults = {
        "string": "mock",
        "integer": 1,
        "number": 1.5,
        "boolean": True,
        "array": [],
        "object": {},
    }
    properties = struct_to_dict(tool.function.parameters).get("properties")
    if not isinstance(properties, dict):
        return {}
    args: dict[str, Any] = {}
    for name, schema in properties.items():
        kind = schema.get("type") if isinstance(schema, dict) else None
        args[name] = defaults.get(kind, "mock") if isinstance(kind, str) else "mock"
    return args


def _last_text(messages: Any) -> str:
    for message in reversed(messages):
        if message.role in (ROLE_USER, ROLE_TOOL):
            return _text_of(message)
    return ""


def _text_of(message: Message) -> str:
    kind = message.WhichOneof("content")
    if kind == "text":
        return message.text
    if kind == "parts":
        return " ".join(p.text.text for p in message.parts.parts if p.WhichOneof("part") == "text")
    return ""


def _deltas(message: Message) -> list[ChatDelta]:
    if message.tool_calls:
        deltas = [
            ChatDelta(
                tool_calls=[
                    ToolCallDelta(
                        index=i,
                        id=c.id,
                        type=c.type,
                        name=c.function.name,
                        arguments=c.function.arguments,
                    )
                ]
            )
            for i, c in enumerate(message.tool_calls)
        ]
    else:
        words = message.text.split(" ")
        pieces = [words[0]] + [" " + w for w in words[1:]]
        deltas = [ChatDelta(content=piece) for piece in pieces]
    deltas[0].role = ROLE_ASSISTANT
    return deltas


def _count_tokens(messages: Any) -> int:
    total = 0
    for message in messages:
        total += len(_text_of(message).split())
        total += sum(len(c.function.arguments.split(",")) for c in message.tool_calls)
    return total


def _usage(input_tokens: int, output_tokens: int) -> Usage:
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
    )


def _embedding_texts(request: EmbedRequest) -> list[str]:
    """What to embed: the input strings, or each token array (which the codec passes in
    `extras["input"]`, as only a provider can read token ids) as its ids' text, so the same
    tokens always give the same vector and each id counts as one token."""
    if request.inputs or "input" not in request.extras:
        return list(request.inputs)
    value = request.extras["input"]
    if not isinstance(value, ListValue):
        return []
    arrays = [item for item in value if isinstance(item, ListValue)] or [value]
    return [" ".join(f"{token:.0f}" for token in tokens) for tokens in arrays]


def _vector(text: str, dimensions: int) -> list[float]:
    # A hash stretched to the wanted length: stable across runs and processes.
    digest = b""
    counter = 0
    while len(digest) < dimensions * 4:
        digest += hashlib.sha256(f"{counter}:{text}".encode()).digest()
        counter += 1
    raw = struct.unpack(f"<{dimensions}I", digest[: dimensions * 4])
    return [value / 2**32 * 2 - 1 for value in raw]
