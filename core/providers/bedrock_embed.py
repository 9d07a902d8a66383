"""EmbedRequest <-> Bedrock InvokeModel bodies for the two embedding families it serves:
Amazon Titan (`amazon.titan-embed-*`: one text per call) and Cohere (`cohere.embed-*`)."""

from __future__ import annotations

from typing import Any

from core.errors import InvalidRequest
from gateway.v1.route_service_pb2 import EmbedRequest, EmbedResponse

_IGNORED = frozenset({"encoding_format"})
"""Extras already honoured: the facade encodes the floats as its caller asked."""
_COHERE_EXTRAS = frozenset({"input_type", "truncate"})
_TITAN_EXTRAS = frozenset({"normalize"})


def _family(model: str) -> str:
    # Also matches regional inference profiles (`us.cohere.embed-v4:0`) and ARNs.
    if "amazon.titan-embed" in model:
        return "titan"
    if "cohere.embed" in model:
        return "cohere"
    raise InvalidRequest(
        f"{model}: bedrock embeddings support amazon.titan-embed-* and cohere.embed-* models",
        param="model",
    )


def embed_bodies(request: EmbedRequest, model: str, extras: dict[str, Any]) -> list[dict[str, Any]]:
    """The InvokeModel bodies for `request`, one per call, in input order."""
    family = _family(model)
    if "input" in extras:
        raise InvalidRequest(
            "token-array inputs are not supported by bedrock models; send text", param="input"
        )
    if request.HasField("user"):
        raise InvalidRequest("user is not supported by bedrock embeddings", param="user")
    allowed = _TITAN_EXTRAS if family == "titan" else _COHERE_EXTRAS
    options: dict[str, Any] = {}
    for key, value in extras.items():
        if value is None or key in _IGNORED:
            continue
        if key not in allowed:
            raise InvalidRequest(f"{key} is not supported by {model}", param=key)
        options[key] = value
    if family == "titan":
        if request.HasField("dimensions"):
            options["dimensions"] = request.dimensions
        return [{"inputText": text, **options} for text in request.inputs]
    if request.HasField("dimensions"):
        # Cohere Embed v4 shortens its vectors; v3 has one size and Bedrock refuses the field.
        options["output_dimension"] = request.dimensions
    options.setdefault("input_type", "search_document")
    return [{"texts": list(request.inputs), **options}]


def embedding_result(model: str, answers: list[Any]) -> EmbedResponse:
    """The EmbedResponse for the answers of `embed_bodies`' calls; raises on a malformed one.

    `model` is left for the caller to name as `account/model`. Cohere's answer body carries
    no token count (Bedrock sends it in a header), so its usage stays 0.
    """
    response = EmbedResponse()
    if _family(model) == "titan":
        tokens = 0
        for index, answer in enumerate(answers):
            response.embeddings.add(index=index, values=answer["embedding"])
            tokens += int(answer.get("inputTextTokenCount") or 0)
        response.usage.input_tokens = tokens
        response.usage.total_tokens = tokens
        return response
    vectors = answers[0]["embeddings"]
    if isinstance(vectors, dict):  # `embedding_types` asked: floats are under "float"
        vectors = vectors["float"]
    for index, values in enumerate(vectors):
        response.embeddings.add(index=index, values=values)
    return response
