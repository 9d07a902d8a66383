"""The Messages API bodies the gateway accepts, and its error envelope, for the OpenAPI
document only.

Handlers never build these models (`codec.chat_params_from_anthropic` reads the JSON); they
describe what it accepts, in the order of Anthropic's API reference. Unknown top-level keys
pass to the provider as extras (as on the chat route); the fields named in
`codec.anthropic_messages.UNSUPPORTED_FIELDS` and `thinking` other than disabled answer 400.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AnthropicErrorResponse", "CountTokensRequest", "MessagesRequest"]


class _Block(BaseModel):
    model_config = ConfigDict(extra="allow")


class AnthropicTextBlock(_Block):
    """Text; `cache_control` and `citations` are accepted and ignored."""

    type: Literal["text"]
    text: str


class AnthropicImageSource(_Block):
    """Where an image is: base64 data with its media type, or a URL."""

    type: Literal["base64", "url"]
    media_type: str | None = Field(None, description="With `base64`, e.g. `image/png`.")
    data: str | None = Field(None, description="With `base64`: the image, base64-encoded.")
    url: str | None = Field(None, description="With `url`.")


class AnthropicImageBlock(_Block):
    """An image, passed to the model as an OpenAI `image_url` part."""

    type: Literal["image"]
    source: AnthropicImageSource


class AnthropicDocumentBlock(_Block):
    """A document: only a plain-text source (`{"type": "text", "data": ...}`) is supported."""

    type: Literal["document"]
    source: dict[str, Any]


class AnthropicToolUseBlock(_Block):
    """A tool call the assistant made, in the conversation's history."""

    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class AnthropicToolResultBlock(_Block):
    """The result of a tool call, in a user turn."""

    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[AnthropicTextBlock | AnthropicImageBlock] = ""
    is_error: bool | None = Field(None, description="Told to the model as `Error:` first.")


class AnthropicThinkingBlock(_Block):
    """A model's thinking in an assistant turn: accepted and left out of the history."""

    type: Literal["thinking", "redacted_thinking"]


_ContentBlock = Annotated[
    AnthropicTextBlock
    | AnthropicImageBlock
    | AnthropicDocumentBlock
    | AnthropicToolUseBlock
    | AnthropicToolResultBlock
    | AnthropicThinkingBlock,
    Field(discriminator="type"),
]


class AnthropicMessage(BaseModel):
    """One turn of the conversation."""

    role: Literal["user", "assistant"]
    content: str | list[_ContentBlock]


class AnthropicTool(_Block):
    """A client tool; server tools (a `type` other than `custom`) answer 400."""

    type: Literal["custom"] | None = None
    name: str
    description: str | None = None
    input_schema: dict[str, Any] = Field(description="The JSON schema of the tool's input.")


class AnthropicToolChoice(BaseModel):
    """How the model may use tools: `any` means it must call one."""

    type: Literal["auto", "any", "tool", "none"]
    name: str | None = Field(None, description="With `tool`: the tool to call.")
    disable_parallel_tool_use: bool | None = None


class AnthropicMetadata(BaseModel):
    """About the request."""

    user_id: str | None = Field(None, description="Passed on as OpenAI's `user`.")


class AnthropicThinking(BaseModel):
    """Extended thinking: only `disabled` is supported."""

    type: Literal["disabled"]


class CountTokensRequest(BaseModel):
    """A Messages API request to estimate the input tokens of (no `max_tokens`)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="A model id as `GET /v1/models` lists it.")
    messages: list[AnthropicMessage] = Field(min_length=1)
    system: str | list[AnthropicTextBlock] | None = None
    tools: list[AnthropicTool] | None = None
    tool_choice: AnthropicToolChoice | None = None
    thinking: AnthropicThinking | None = None


class MessagesRequest(CountTokensRequest):
    """Anthropic's Messages API request; any configured chat model serves it."""

    max_tokens: int = Field(ge=1, description="Required, as Anthropic requires it.")
    metadata: AnthropicMetadata | None = None
    stop_sequences: list[str] | None = None
    stream: bool | None = None
    temperature: float | None = None
    top_k: int | None = Field(None, description="Passed to the provider as an extra field.")
    top_p: float | None = None


class AnthropicErrorDetail(BaseModel):
    """Anthropic's error object."""

    type: str = Field(description="`invalid_request_error`, `authentication_error`, ...")
    message: str


class AnthropicErrorResponse(BaseModel):
    """Anthropic's error envelope."""

    type: Literal["error"]
    error: AnthropicErrorDetail
