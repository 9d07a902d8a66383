"""OpenAI JSON <-> gateway.v1 protobuf, the one translation shared by facade and providers."""

from codec.anthropic_messages import chat_params_from_anthropic, estimate_input_tokens
from codec.anthropic_response import message_from_chat_result
from codec.anthropic_stream import MessageEvents
from codec.chat_request import chat_params_from_json, chat_params_to_json
from codec.chat_response import (
    chat_result_from_json,
    chat_result_to_json,
    finish_reason_from_str,
    finish_reason_to_str,
    usage_from_json,
    usage_to_json,
)
from codec.chunks import (
    ParsedChunk,
    chunk_to_json,
    finish_chunks_to_json,
    parse_chunk_json,
    usage_chunk_to_json,
)
from codec.completions import (
    CompletionChunks,
    CompletionRequest,
    completion_request_from_json,
    completion_to_json,
)
from codec.depth import check_depth, too_deep
from codec.embeddings import (
    embed_request_from_json,
    embed_request_to_json,
    embed_response_from_json,
    embed_response_to_json,
)
from codec.errors import CodecError
from codec.responses_request import ResponsesRequest, responses_request_from_json
from codec.responses_response import response_from_chat_result
from codec.responses_stream import ResponseEvents
from codec.values import struct_from_dict, struct_to_dict, value_from_python, value_to_python

__all__ = [
    "CodecError",
    "CompletionChunks",
    "CompletionRequest",
    "MessageEvents",
    "ParsedChunk",
    "ResponseEvents",
    "ResponsesRequest",
    "chat_params_from_anthropic",
    "chat_params_from_json",
    "chat_params_to_json",
    "chat_result_from_json",
    "chat_result_to_json",
    "check_depth",
    "chunk_to_json",
    "completion_request_from_json",
    "completion_to_json",
    "embed_request_from_json",
    "embed_request_to_json",
    "embed_response_from_json",
    "embed_response_to_json",
    "estimate_input_tokens",
    "finish_chunks_to_json",
    "finish_reason_from_str",
    "finish_reason_to_str",
    "message_from_chat_result",
    "parse_chunk_json",
    "response_from_chat_result",
    "responses_request_from_json",
    "struct_from_dict",
    "struct_to_dict",
    "too_deep",
    "usage_chunk_to_json",
    "usage_from_json",
    "usage_to_json",
    "value_from_python",
    "value_to_python",
]
