"""Gemini `GenerateContentResponse`s (one whole answer, or each chunk of a stream) ->
ChatDelta and ChatResult. Shared by the Gemini API and Vertex AI, which answer alike."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from codec import struct_from_dict
from core.providers.assembler import StreamAssembler
from core.providers.gemini_request import SIGNATURE_KEY, SYNTHETIC_ID_PREFIX
from gateway.v1.chat_pb2 import ROLE_ASSISTANT, ChatDelta, ChatResult, ToolCallDelta, Usage

_REASONING = "reasoning_content"
"""Message extra that carries thought summaries, the name OpenAI-compatible servers use."""

# Gemini finishReason -> OpenAI finish_reason; any other reason passes through lower-cased
# (`malformed_function_call`, `other`, ...), as OpenAI has no word for it.
_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "BLOCKLIST": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
}

IdMaker = Callable[[], str]


def synthetic_id() -> str:
    """A tool-call id for a call Gemini sent without one: unique across a conversation, so
    the tool message answering it finds its call (and the function name) unambiguously."""
    return SYNTHETIC_ID_PREFIX + uuid.uuid4().hex[:24]


def finish_reason(gemini_reason: str, *, called_tools: bool) -> str:
    """OpenAI's finish reason: Gemini ends a turn of function calls with STOP."""
    if called_tools and gemini_reason == "STOP":
        return "tool_calls"
    return _FINISH.get(gemini_reason, gemini_reason.lower())


def usage_from_gemini(metadata: dict[str, Any]) -> Usage:
    """Gemini's usageMetadata in OpenAI's terms: thinking tokens are output (OpenAI counts
    reasoning in completion_tokens), tool-use prompt tokens are input; cache reads and
    thinking are also reported as OpenAI's `*_tokens_details`."""
    prompt = int(metadata.get("promptTokenCount") or 0)
    tool_prompt = int(metadata.get("toolUsePromptTokenCount") or 0)
    candidates = int(metadata.get("candidatesTokenCount") or 0)
    thoughts = int(metadata.get("thoughtsTokenCount") or 0)
    cached = int(metadata.get("cachedContentTokenCount") or 0)
    input_tokens = prompt + tool_prompt
    output_tokens = candidates + thoughts
    usage = Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
    )
    extras: dict[str, Any] = {}
    if cached:
        extras["prompt_tokens_details"] = {"cached_tokens": cached}
    if thoughts:
        extras["completion_tokens_details"] = {"reasoning_tokens": thoughts}
    if extras:
        usage.extras.CopyFrom(struct_from_dict(extras))
    return usage


class GeminiAnswer:
    """Turns `GenerateContentResponse`s into deltas and, at the end, the ChatResult.

    A whole answer is fed once; a stream feeds each chunk (each a `GenerateContentResponse`
    holding the next parts of each candidate). Function calls arrive whole, never split.
    """

    def __init__(self, *, make_id: IdMaker = synthetic_id) -> None:
        self._assembler = StreamAssembler()
        self._make_id = make_id
        self._tool_counts: dict[int, int] = {}
        self._role_sent: set[int] = set()
        self._signatures: dict[tuple[int, int], str] = {}
        self._usage: dict[str, Any] = {}
        self._id = ""
        self._model = ""

    @property
    def finished(self) -> bool:
        """Whether every candidate seen has a finish reason (or the prompt was blocked)."""
        return self._assembler.finished

    def feed(self, answer: dict[str, Any]) -> list[ChatDelta]:
        """Takes one response (or chunk); returns its deltas. Raises on a malformed one."""
        self._id = self._id or str(answer.get("responseId") or "")
        self._model = self._model or str(answer.get("modelVersion") or "")
        metadata = answer.get("usageMetadata")
        if isinstance(metadata, dict):
            # Each chunk that carries usage carries the running totals: the last one wins.
            self._usage = metadata
        deltas: list[ChatDelta] = []
        candidates = answer.get("candidates") or []
        for position, candidate in enumerate(candidates):
            index = int(candidate.get("index", position))
            content = candidate.get("content") or {}
            for part in content.get("parts") or []:
                delta = self._delta(index, part)
                if delta is not None:
                    deltas.append(self._emit(delta))
            reason = candidate.get("finishReason")
            if reason and reason != "FINISH_REASON_UNSPECIFIED":
                called = self._tool_counts.get(index, 0) > 0
                self._assembler.finish(index, finish_reason(str(reason), called_tools=called))
        feedback = answer.get("promptFeedback") or {}
        if not candidates and feedback.get("blockReason"):
            # The prompt itself was blocked: no candidate at all, and nothing to retry.
            deltas.append(self._emit(ChatDelta(choice_index=0, content="")))
            self._assembler.finish(0, "content_filter")
        return deltas

    def _delta(self, index: int, part: dict[str, Any]) -> ChatDelta | None:
        if "functionCall" in part:
            call = part["functionCall"]
            position = self._tool_counts.get(index, 0)
            self._tool_counts[index] = position + 1
            signature = part.get("thoughtSignature")
            if isinstance(signature, str):
                self._signatures[(index, position)] = signature
            piece = ToolCallDelta(
                index=position,
                id=str(call.get("id") or self._make_id()),
                type="function",
                name=str(call["name"]),
                arguments=json.dumps(call.get("args") or {}, separators=(",", ":")),
            )
            return ChatDelta(choice_index=index, tool_calls=[piece])
        text = part.get("text")
        if isinstance(text, str):
            if part.get("thought"):
                return ChatDelta(choice_index=index, extras=struct_from_dict({_REASONING: text}))
            return ChatDelta(choice_index=index, content=text)
        # Parts the chat API has no place for (executable code, inline images) are not data
        # a caller asked for through it; they are left out rather than turned into text.
        return None

    def _emit(self, delta: ChatDelta) -> ChatDelta:
        if delta.choice_index not in self._role_sent:
            delta.role = ROLE_ASSISTANT
            self._role_sent.add(delta.choice_index)
        self._assembler.add(delta)
        return delta

    def result(self) -> ChatResult:
        """The assembled answer."""
        result = self._assembler.result(
            usage_from_gemini(self._usage), id=self._id, model=self._model
        )
        # The signature goes back with the call on the next turn (gemini_request reads it).
        for choice in result.choices:
            for position, call in enumerate(choice.message.tool_calls):
                signature = self._signatures.get((choice.index, position))
                if signature is not None:
                    extra = {"extra_content": {"google": {SIGNATURE_KEY: signature}}}
                    call.extras.CopyFrom(struct_from_dict(extra))
        return result


def result_from_answer(answer: dict[str, Any], *, make_id: IdMaker = synthetic_id) -> ChatResult:
    """A whole (non-streamed) answer as a ChatResult; raises on a malformed one."""
    reader = GeminiAnswer(make_id=make_id)
    reader.feed(answer)
    return reader.result()
