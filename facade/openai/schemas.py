"""The OpenAI request bodies the gateway accepts, for the OpenAPI document only.

Handlers never build these models (codec/ parses the JSON: no per-request pydantic); they
describe what `codec.chat_params_from_json`, `codec.completion_request_from_json`,
`codec.responses_request_from_json` and `codec.embed_request_from_json` accept. Fields
are in the order of OpenAI's API reference. Every body allows extra keys: a field not listed
here reaches the provider unchanged, so no request parameter is ever dropped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChatCompletionRequest", "CompletionRequest", "EmbeddingRequest", "ResponseRequest"]

_Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
_T = TypeVar("_T")
_NonEmpty = Annotated[list[_T], Field(min_length=1)]


class _Open(BaseModel):
    """An OpenAI object: keys not modeled here pass through to the provider."""

    model_config = ConfigDict(extra="allow")


class TextPart(_Open):
    """A text content part."""

    type: Literal["text"]
    text: str = ""


class ImageUrl(_Open):
    """Where an image is: an `https:` or `data:` URL."""

    url: str = ""
    detail: str | None = Field(None, description="`auto`, `low` or `high`.")


class ImagePart(_Open):
    """An image content part."""

    type: Literal["image_url"]
    image_url: ImageUrl


class OtherPart(_Open):
    """Any other content part (`input_audio`, `file`, ...), passed to the provider as is."""

    type: str


class FunctionCall(_Open):
    """The function an assistant message called, with its arguments as JSON text."""

    name: str | None = None
    arguments: str | None = Field(None, description="JSON text, passed on even when invalid.")


class ToolCall(_Open):
    """A tool call of an earlier assistant message."""

    id: str | None = None
    type: str | None = Field(None, description="`function`.")
    function: FunctionCall | None = None


class Message(_Open):
    """One message of the conversation."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart | ImagePart | OtherPart] | None = Field(
        None, description="Text, or an array of content parts."
    )
    name: str | None = None
    tool_calls: list[ToolCall] | None = Field(None, description="Assistant messages only.")
    tool_call_id: str | None = Field(None, description="Tool messages: the call answered.")


class FunctionDefinition(_Open):
    """A function the model may call."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = Field(
        None, description="The function's arguments, as a JSON Schema object."
    )
    strict: bool | None = None


class Tool(_Open):
    """A tool the model may call."""

    type: str = Field("function", description="`function`.")
    function: FunctionDefinition | None = None


class NamedToolChoice(_Open):
    """Forces a call of the named function."""

    type: Literal["function"]
    function: dict[str, str] = Field(description='`{"name": "<function name>"}`.')


class JsonSchemaFormat(_Open):
    """The JSON Schema a `json_schema` response must follow."""

    name: str | None = None
    description: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Open):
    """The format of the answer; a `type` other than the three below is passed on whole."""

    type: str = Field(description="`text`, `json_object` or `json_schema`.")
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(_Open):
    """Options of a streamed answer."""

    include_usage: bool | None = Field(
        None, description="Send a last chunk with the usage of the whole call."
    )


class ChatCompletionRequest(_Open):
    """`POST /chat/completions`: OpenAI's chat completion request."""

    messages: list[Message] = Field(min_length=1)
    model: str = Field(
        min_length=1,
        description="`<provider account>/<model>`, e.g. `openai-main/gpt-4o`, as configured.",
    )
    frequency_penalty: float | None = None
    max_completion_tokens: _Int64 | None = None
    max_tokens: _Int64 | None = None
    n: _Int64 | None = None
    parallel_tool_calls: bool | None = None
    presence_penalty: float | None = None
    response_format: ResponseFormat | None = None
    seed: _Int64 | None = None
    stop: str | list[str] | None = None
    stream: bool | None = Field(
        None, description="Answer as server-sent events (`text/event-stream`), then `[DONE]`."
    )
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, description="The provider checks its range.")
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = Field(
        None, description="Any other form is passed to the provider as is."
    )
    tools: list[Tool] | None = None
    top_p: float | None = None
    user: str | None = None


class CompletionRequest(_Open):
    """`POST /completions`: OpenAI's legacy completions request.

    Served by chat models: each prompt is one chat call with the prompt as its user message.
    """

    model: str = Field(
        min_length=1, description="`<provider account>/<model>` of a chat model, as configured."
    )
    prompt: str | Annotated[list[str], Field(min_length=1, max_length=128)] = Field(
        description="A text, or up to 128 texts (one chat call each, run concurrently; not "
        "with `stream`). Token ids answer 400."
    )
    best_of: int | None = Field(None, description="Only 1 or `n`; any other value answers 400.")
    echo: bool | None = Field(None, description="Put the prompt in front of each choice's text.")
    frequency_penalty: float | None = None
    logit_bias: dict[str, int] | None = Field(None, description="Passed to the provider as is.")
    logprobs: None = Field(None, description="Not supported: any value but null answers 400.")
    max_tokens: _Int64 | None = Field(
        None, description="No default: when left out, the model's own limit applies."
    )
    n: int | None = Field(None, ge=1, le=128, description="Choices per prompt.")
    presence_penalty: float | None = None
    seed: _Int64 | None = None
    stop: str | list[str] | None = None
    stream: bool | None = Field(
        None, description="Answer as server-sent events (`text/event-stream`), then `[DONE]`."
    )
    stream_options: StreamOptions | None = None
    suffix: Literal[""] | None = Field(
        None, description="Not supported: any value but null or empty answers 400."
    )
    temperature: float | None = Field(None, description="The provider checks its range.")
    top_p: float | None = None
    user: str | None = None


class ResponsesFunctionTool(_Open):
    """A function the model may call (the Responses shape: no `function` wrapper)."""

    type: Literal["function"] = Field(description="Built-in tools (web search...) answer 400.")
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = Field(None, description="A JSON schema.")
    strict: bool | None = None


class ResponsesInputItem(_Open):
    """A `message` (`role`, `content`: a string or `input_text` / `input_image` /
    `output_text` parts), `function_call` (`call_id`, `name`, `arguments`) or
    `function_call_output` (`call_id`, `output`); other item types answer 400."""

    type: str | None = Field(None, description="`message` when left out.")


class ResponseRequest(_Open):
    """`POST /responses`: OpenAI's Responses API request, served by the configured chat models.

    Responses are stored (unless `store: false`) so that `previous_response_id` can continue
    from them; `conversation`, `prompt`, `background: true`, `include`, `truncation: "auto"`,
    `reasoning.summary` and built-in tools answer 400.
    """

    model: str = Field(
        min_length=1, description="`<provider account>/<model>` of a chat model, as configured."
    )
    input: str | _NonEmpty[ResponsesInputItem] = Field(
        description="The user's text, or the conversation as items."
    )
    background: Literal[False] | None = Field(None, description="`true` answers 400.")
    conversation: None = Field(None, description="Not supported: any value but null answers 400.")
    include: Annotated[list[str], Field(max_length=0)] | None = Field(
        None, description="Not supported: a non-empty list answers 400."
    )
    instructions: str | None = Field(None, description="A system message put first.")
    max_output_tokens: int | None = Field(None, ge=1, description="The chat call's `max_tokens`.")
    metadata: dict[str, str] | None = Field(None, description="Echoed in the response.")
    parallel_tool_calls: bool | None = None
    previous_response_id: str | None = Field(
        None,
        min_length=1,
        description="Continue from a response this key stored: its conversation goes between "
        "these `instructions` (the previous ones are not carried over) and this `input`. An "
        "unknown id answers 400 `previous_response_not_found`.",
    )
    prompt: None = Field(None, description="Not supported: any value but null answers 400.")
    reasoning: dict[str, Any] | None = Field(
        None, description="`effort` is passed on as chat's `reasoning_effort`; no `summary`."
    )
    store: bool | None = Field(
        None,
        description="Whether to store the response for `previous_response_id` and "
        "`GET /responses/{id}` (default true); stored responses age out with the logs.",
    )
    stream: bool | None = Field(
        None, description="Answer as the Responses API's server-sent events."
    )
    temperature: float | None = None
    text: dict[str, Any] | None = Field(
        None,
        description="`format`: `text`, `json_object` or `json_schema` (`name`, `schema`, "
        "`strict`).",
    )
    tool_choice: str | dict[str, Any] | None = Field(
        None, description='`auto`, `none`, `required` or `{"type": "function", "name": ...}`.'
    )
    tools: list[ResponsesFunctionTool] | None = None
    top_p: float | None = None
    truncation: Literal["disabled"] | None = None
    user: str | None = None


class EmbeddingRequest(_Open):
    """`POST /embeddings`: OpenAI's embeddings request."""

    input: str | _NonEmpty[str] | _NonEmpty[int] | _NonEmpty[_NonEmpty[int]] = Field(
        description="A text, texts, or token arrays (passed to the provider as they are)."
    )
    model: str = Field(
        min_length=1, description="`<provider account>/<model>` of an embedding model."
    )
    dimensions: int | None = Field(None, ge=1, le=2**63 - 1)
    encoding_format: Literal["float", "base64"] | None = Field(
        None, description="`float` (the default) or `base64` (little-endian float32)."
    )
    user: str | None = None
