"""The codegen API's request and answer, for the OpenAPI document only (handlers read JSON)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from facade.codegen.spec import API_KEY_ENV
from facade.openai.schemas import ChatCompletionRequest

__all__ = ["CodegenRequest", "CodegenResponse", "SnippetChatRequest"]


class SnippetChatRequest(ChatCompletionRequest):
    """The chat completion request the snippet makes, plus the metadata it sends."""

    metadata: dict[str, str] | None = Field(
        None,
        description="Custom metadata, sent as the `X-TFY-METADATA` header (not in the body).",
    )


class CodegenRequest(BaseModel):
    """`POST /api/svc/v1/llm-gateway/codegen`: a ready-to-run snippet making this request."""

    model_config = ConfigDict(extra="forbid")

    request: SnippetChatRequest
    language: Literal["python", "javascript", "typescript", "curl"]
    library: Literal["openai", "requests", "langchain", "fetch", "grpc"] | None = Field(
        None,
        description="python: openai (default), requests, langchain or grpc; javascript and "
        "typescript: openai (default) or fetch; curl: none (omit it).",
    )


class CodegenResponse(BaseModel):
    """A snippet: its source, a file name to save it as, and the variable holding the key."""

    code: str
    filename: str = Field(examples=["chat_openai.py"])
    api_key_env: str = Field(
        examples=[API_KEY_ENV], description="The environment variable the snippet reads."
    )
