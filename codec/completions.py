"""Legacy completions JSON (`text_completion`) <-> the chat protos that serve it.

A completions request becomes one chat call per prompt, the prompt as its one user message;
every other field means what it means in a chat request and travels the same way (unmodeled
keys in `extras`). The answers come back as `text_completion` objects and chunks, choice
`index = prompt_index * n + choice_index`, usage summed over the calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from codec.chat_request import chat_params_from_json
from codec.chat_response import choice_finish_reason, usage_to_json
from codec.errors import CodecError, rejects_surrogates
from codec.fields import as_bool, as_int, json_type
from codec.values import value_to_python
from gateway.v1 import chat_pb2

MAX_N = 128
"""OpenAI's own bound on `n`; it also keeps merged choice indexes small."""
MAX_PROMPTS = 128
"""Most prompts in one request: each is a concurrent chat call (LangChain sends 20 at a time)."""

_PROMPT_ERROR = "`prompt` must be a string or a non-empty array of strings"
# Completion fields a chat request does not have; each is read here, never sent on.
_OWN_KEYS = frozenset({"prompt", "echo", "best_of", "logprobs", "suffix"})
_CHAT_ONLY = ("messages", "tools", "functions")


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """A completions request as the chat calls that serve it, one per prompt."""

    prompts: tuple[str, ...]
    calls: tuple[chat_pb2.ChatParams, ...]
    """The chat call of each prompt, in prompt order."""
    echo: bool
    """Put the prompt in front of each choice's text."""
    n: int
    """Choices asked per prompt (1 when the request leaves `n` out)."""


@rejects_surrogates
def completion_request_from_json(body: Mapping[str, Any]) -> CompletionRequest:
    """Translate a client's completions request; raises CodecError naming the field at fault."""
    if not isinstance(body, Mapping):
        raise CodecError("the request body must be a JSON object")
    for key in _CHAT_ONLY:
        if body.get(key) is not None:  # the answer would be a message, not a text
            raise CodecError(f"`{key}` belongs to /chat/completions, not /completions", key)
    prompts = _prompts(body.get("prompt"))
    n = _n(body.get("n"))
    _refuse_unsupported(body, n)
    echo = body.get("echo")
    chat = {key: value for key, value in body.items() if key not in _OWN_KEYS}
    chat["messages"] = [{"role": "user", "content": prompts[0]}]
    first = chat_params_from_json(chat)
    calls = [first]
    for prompt in prompts[1:]:
        params = chat_pb2.ChatParams()
        params.CopyFrom(first)
        params.messages[0].text = prompt
        calls.append(params)
    return CompletionRequest(
        prompts=prompts,
        calls=tuple(calls),
        echo=False if echo is None else as_bool(echo, "", "echo"),
        n=n,
    )


def completion_to_json(
    request: CompletionRequest, results: Sequence[chat_pb2.ChatResult], *, completion_id: str
) -> dict[str, Any]:
    """The `text_completion` object answering `request`; `results[i]` answers prompt `i`."""
    if len(results) != len(request.prompts) or not results:
        raise ValueError("one chat result per prompt is needed")
    choices = [
        completion_choice_to_json(
            choice,
            index=position * request.n + choice.index,
            echo=prompt if request.echo else "",
        )
        for position, (prompt, result) in enumerate(zip(request.prompts, results, strict=True))
        for choice in result.choices
    ]
    choices.sort(key=lambda choice: choice["index"])
    first = results[0]
    out: dict[str, Any] = {
        "id": completion_id,
        "object": "text_completion",
        "created": first.create_time.seconds,
        "model": first.model,
        "choices": choices,
        "usage": usage_sum_to_json([result.usage for result in results]),
    }
    if "system_fingerprint" in first.extras.fields:
        out["system_fingerprint"] = value_to_python(first.extras.fields["system_fingerprint"])
    return out


def completion_choice_to_json(choice: chat_pb2.Choice, *, index: int, echo: str) -> dict[str, Any]:
    """One `text_completion` choice: the answer's text, after `echo`."""
    return {
        "text": echo + message_text(choice.message),
        "index": index,
        "logprobs": None,
        "finish_reason": choice_finish_reason(choice),
    }


def message_text(message: chat_pb2.Message) -> str:
    """The text of an answer: its string content, or its text parts joined."""
    if message.HasField("text"):
        return message.text
    return "".join(part.text.text for part in message.parts.parts if part.HasField("text"))


def usage_sum_to_json(usages: Sequence[chat_pb2.Usage]) -> dict[str, Any]:
    """OpenAI's usage object for several calls: every count summed, nested details too."""
    total: dict[str, Any] = {}
    for usage in usages:
        _add_counts(total, usage_to_json(usage))
    return total


class CompletionChunks:
    """The `text_completion` chunks of one prompt's chat stream.

    With `echo`, each choice's first chunk holds the prompt, ahead of the answer's text.
    """

    __slots__ = ("_echo", "_echoed", "_ids")

    def __init__(self, *, completion_id: str, model: str, created: int, echo: str | None) -> None:
        self._ids = (completion_id, model, created)
        self._echo = echo
        self._echoed: set[int] = set()

    def delta(self, delta: chat_pb2.ChatDelta) -> list[dict[str, Any]]:
        """The chunks for one piece of the answer: none for a piece without text."""
        chunks = self._echoes(delta.choice_index)
        if delta.content:
            chunks.append(self.chunk(delta.choice_index, delta.content, None))
        return chunks

    def finish(self, result: chat_pb2.ChatResult) -> list[dict[str, Any]]:
        """One chunk per choice with no text and its finish_reason, as a stream ends."""
        chunks: list[dict[str, Any]] = []
        for choice in result.choices:
            chunks.extend(self._echoes(choice.index))
            chunks.append(self.chunk(choice.index, "", choice_finish_reason(choice)))
        return chunks

    def usage(self, result: chat_pb2.ChatResult) -> dict[str, Any]:
        """The last chunk under `stream_options.include_usage`: no choices, only usage."""
        out = self._envelope([])
        out["usage"] = usage_to_json(result.usage)
        return out

    def chunk(self, index: int, text: str, finish_reason: Any) -> dict[str, Any]:
        """A chunk of one choice."""
        choice = {"text": text, "index": index, "logprobs": None, "finish_reason": finish_reason}
        return self._envelope([choice])

    def _echoes(self, index: int) -> list[dict[str, Any]]:
        if self._echo is None or index in self._echoed:
            return []
        self._echoed.add(index)
        return [self.chunk(index, self._echo, None)]

    def _envelope(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        completion_id, model, created = self._ids
        return {
            "id": completion_id,
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": choices,
        }


def _prompts(value: Any) -> tuple[str, ...]:
    if value is None:
        raise CodecError("`prompt` is required", "prompt")
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not value:
        raise CodecError(f"{_PROMPT_ERROR}, got {json_type(value)}", "prompt")
    if all(isinstance(item, str) for item in value):
        if len(value) > MAX_PROMPTS:
            raise CodecError(f"`prompt` holds more than {MAX_PROMPTS} prompts", "prompt")
        return tuple(value)
    if all(_is_tokens(item) for item in value) or all(isinstance(item, int) for item in value):
        raise CodecError(
            "`prompt` as token ids is not supported: the gateway serves completions with chat "
            "models, which take text",
            "prompt",
        )
    raise CodecError(_PROMPT_ERROR, "prompt")


def _is_tokens(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, int) for item in value)


def _n(value: Any) -> int:
    return 1 if value is None else as_int(value, "", "n", 1, MAX_N)


def _refuse_unsupported(body: Mapping[str, Any], n: int) -> None:
    # Chat models offer none of these: refused, never silently ignored.
    suffix = body.get("suffix")
    if suffix is not None and suffix != "":
        raise _unsupported("suffix", "text insertion before a suffix")
    if body.get("logprobs") is not None:
        raise _unsupported("logprobs", "log probabilities")
    best_of = body.get("best_of")
    if best_of is not None and as_int(best_of, "", "best_of") not in (1, n):
        raise _unsupported("best_of", "a best-of choice; only 1 or `n`")


def _unsupported(field: str, what: str) -> CodecError:
    return CodecError(
        f"`{field}` is not supported: completions are served by chat models, without {what}",
        field,
    )


def _add_counts(total: dict[str, Any], more: Mapping[str, Any]) -> None:
    # Counts add up; anything else (a string, say) keeps the first call's value.
    for key, value in more.items():
        current = total.get(key)
        if isinstance(value, dict):
            if key not in total:
                total[key] = current = {}
            if isinstance(current, dict):
                _add_counts(current, value)
        elif key not in total:
            total[key] = value
        elif _is_number(current) and _is_number(value):
            total[key] = current + value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
