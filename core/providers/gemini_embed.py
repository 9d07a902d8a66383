"""What the Gemini API's and Vertex AI's embedding calls share: the texts and options of a
request, usage, and splitting the texts into the batches each endpoint accepts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from core.errors import InvalidRequest
from gateway.v1.chat_pb2 import Usage
from gateway.v1.route_service_pb2 import Embedding, EmbedRequest

BATCH_CONCURRENCY = 8
"""Batches of one embedding request in flight at once: enough that a request split into
single-text calls (Vertex's gemini-embedding-001) is not serial, few enough that one caller
cannot take every pooled connection or burst through the project's per-minute quota."""

_CHARS_PER_TOKEN = 4
_BYTES_PER_TOKEN_AT_MOST = 2
"""For a batch's token cap: a token of real text is rarely under two UTF-8 bytes (a CJK
character is three bytes and one token; English averages over four), so counting one token
per two bytes over-estimates, and a batch kept under the cap by it stays under it."""

# Extras that change nothing a Google embedding model returns (the facade encodes the
# floats itself, whatever `encoding_format` asks for).
_NO_EFFECT = frozenset({"encoding_format"})


def embed_texts(request: EmbedRequest, family: str) -> list[str]:
    """The texts to embed; token-id inputs are refused, as Google models take only text."""
    if "input" in request.extras.fields:
        raise InvalidRequest(
            f"{family} embedding models take text, not token arrays", param="input"
        )
    return list(request.inputs)


def embed_options(request: EmbedRequest, names: Mapping[str, str], family: str) -> dict[str, Any]:
    """The request's embedding options by their wire `names` (`task_type`, `title`); 400 for
    any other extra, which `family` embedding models would not apply."""
    options: dict[str, Any] = {}
    for key, value in request.extras.fields.items():
        if key in _NO_EFFECT or value.WhichOneof("kind") == "null_value":
            continue
        wire = names.get(key)
        if wire is None:
            raise InvalidRequest(f"{key} is not supported by {family} embedding models", param=key)
        options[wire] = value.string_value
    return options


def estimated_tokens(texts: Sequence[str]) -> int:
    """A token count for embeddings whose answer reports none (about four characters a
    token): usage is always counted, for budgets and cost."""
    return sum(len(text) // _CHARS_PER_TOKEN + 1 for text in texts if text)


def embed_usage(tokens: int) -> Usage:
    return Usage(input_tokens=tokens, total_tokens=tokens)


def vectors(values: list[list[float]]) -> list[Embedding]:
    return [Embedding(index=i, values=vector) for i, vector in enumerate(values)]


def batches(
    texts: Sequence[str], *, size: int, max_tokens: int | None = None
) -> Iterator[list[str]]:
    """`texts` in order, cut into runs of at most `size` texts and (when `max_tokens` is
    set) at most that many tokens by a generous estimate. A text estimated over the cap on
    its own still goes, alone: the endpoint truncates it, or says why not."""
    batch: list[str] = []
    tokens = 0
    for text in texts:
        cost = len(text.encode()) // _BYTES_PER_TOKEN_AT_MOST + 1
        full = len(batch) >= size or (max_tokens is not None and tokens + cost > max_tokens)
        if batch and full:
            yield batch
            batch, tokens = [], 0
        batch.append(text)
        tokens += cost
    if batch:
        yield batch
