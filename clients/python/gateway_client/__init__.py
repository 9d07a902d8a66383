"""Typed async gRPC client of the LLM gateway.

Example:
    ```python
    from gateway.v1 import chat_pb2
    from gateway_client import GatewayClient

    async with GatewayClient("localhost:50051", api_key="sk-...") as client:
        answer = await client.route(chat_pb2.ChatParams(model="openai-main/gpt-4o", ...))
        print(answer.resolved_model, answer.result.choices[0].message.text)
    ```
"""

from ._client import (
    DEFAULT_MAX_MESSAGE_BYTES,
    USE_CLIENT_DEFAULT,
    EmbedResult,
    GatewayClient,
    RouteResult,
    UseClientDefault,
)
from ._errors import (
    AbortedError,
    AuthenticationError,
    CallCancelledError,
    DeadlineExceededError,
    FailedPreconditionError,
    GatewayError,
    InternalError,
    InvalidRequestError,
    MessageTooLargeError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    ResponseTooLargeError,
    UnimplementedError,
    UpstreamUnavailableError,
    from_rpc_error,
)
from ._keys import KeysClient
from ._logs import LogsClient, log_filter, log_sort
from ._metrics import MetricsClient
from ._responses import ResponsesClient
from ._stream import ChatStream, StreamInfo

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "USE_CLIENT_DEFAULT",
    "AbortedError",
    "AuthenticationError",
    "CallCancelledError",
    "ChatStream",
    "DeadlineExceededError",
    "EmbedResult",
    "FailedPreconditionError",
    "GatewayClient",
    "GatewayError",
    "InternalError",
    "InvalidRequestError",
    "KeysClient",
    "LogsClient",
    "MessageTooLargeError",
    "MetricsClient",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "ResponseTooLargeError",
    "ResponsesClient",
    "RouteResult",
    "StreamInfo",
    "UnimplementedError",
    "UpstreamUnavailableError",
    "UseClientDefault",
    "from_rpc_error",
    "log_filter",
    "log_sort",
]
