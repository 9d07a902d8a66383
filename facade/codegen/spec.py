"""The chat call a snippet makes, read from the codegen body's `request` and checked.

The request is checked by the codec the chat route itself uses (`codec.chat_params_from_json`),
so a snippet is generated exactly for the requests the gateway would accept; an error names
the field under `request` (`request.messages[0].role`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from codec import CodecError, chat_params_from_json
from codec.fields import json_type
from facade.errors import FacadeError
from gateway.v1 import chat_pb2

__all__ = ["API_KEY_ENV", "GRPC_TARGET_ENV", "METADATA_HEADER", "ChatSpec", "parse_chat_request"]

API_KEY_ENV = "LLM_GATEWAY_API_KEY"
"""The environment variable every snippet reads the API key from (never written in the code)."""

GRPC_TARGET_ENV = "LLM_GATEWAY_GRPC_TARGET"
"""The environment variable a gRPC snippet reads the gateway's gRPC address from."""

METADATA_HEADER = "X-TFY-METADATA"

_STREAMING_KEYS = ("stream", "stream_options")


@dataclass(frozen=True, slots=True)
class ChatSpec:
    """One chat completion call: where to send it and what."""

    base_url: str
    """The OpenAI-compatible base URL (`http://host/api/inference/openai`)."""
    grpc_target: str
    """The gRPC address a gRPC snippet uses unless `GRPC_TARGET_ENV` is set."""
    body: dict[str, Any]
    """The OpenAI request body as given, without `metadata` (which travels as a header)."""
    params: chat_pb2.ChatParams
    """The same request as the gateway's typed protos, without the streaming fields."""
    metadata: dict[str, str]
    stream: bool
    include_usage: bool

    @property
    def chat_url(self) -> str:
        """The chat completions endpoint."""
        return f"{self.base_url}/chat/completions"

    @property
    def metadata_header(self) -> str | None:
        """`X-TFY-METADATA`'s value: the metadata as compact, ASCII-only JSON (header-safe)."""
        if not self.metadata:
            return None
        return json.dumps(self.metadata, ensure_ascii=True, separators=(",", ":"))

    @property
    def has_tools(self) -> bool:
        """Whether the model may answer with tool calls."""
        return bool(self.body.get("tools"))


def parse_chat_request(value: Any, *, base_url: str, grpc_target: str) -> ChatSpec:
    """The call described by the codegen body's `request`; FacadeError 400 naming the field."""
    if not isinstance(value, dict):
        raise _invalid(f"`request` must be an object, got {json_type(value)}.", "request")
    body = {key: item for key, item in value.items() if key != "metadata"}
    metadata = _metadata(value.get("metadata"))
    stream, include_usage = _streaming(body)
    without_streaming = {k: v for k, v in body.items() if k not in _STREAMING_KEYS}
    try:
        params = chat_params_from_json(without_streaming)
    except CodecError as exc:
        param = f"request.{exc.param}" if exc.param else "request"
        raise _invalid(f"Invalid `request`: {exc.message}.", param) from None
    return ChatSpec(
        base_url=base_url,
        grpc_target=grpc_target,
        body=body,
        params=params,
        metadata=metadata,
        stream=stream,
        include_usage=include_usage,
    )


def _metadata(value: Any) -> dict[str, str]:
    # Only the shape a header needs; core checks the rest (lengths, key count) at call time.
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid(
            f"`request.metadata` must be an object of strings, got {json_type(value)}.",
            "request.metadata",
        )
    for key, item in value.items():
        if not isinstance(item, str):
            raise _invalid(
                f"`request.metadata` values must be strings; {key!r} is {json_type(item)}.",
                f"request.metadata.{key}",
            )
    return dict(value)


def _streaming(body: dict[str, Any]) -> tuple[bool, bool]:
    """(`stream`, `stream_options.include_usage`), checked as the chat route checks them."""
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _invalid("`request.stream` must be a boolean.", "request.stream")
    options = body.get("stream_options")
    if options is None:
        return bool(stream), False
    if not isinstance(options, dict):
        raise _invalid("`request.stream_options` must be an object.", "request.stream_options")
    include_usage = options.get("include_usage")
    if include_usage is not None and not isinstance(include_usage, bool):
        raise _invalid(
            "`request.stream_options.include_usage` must be a boolean.",
            "request.stream_options.include_usage",
        )
    return bool(stream), bool(include_usage)


def _invalid(message: str, param: str) -> FacadeError:
    return FacadeError(400, message, code="invalid_request", param=param)
