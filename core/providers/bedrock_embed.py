"""EmbedRequest <-> Bedrock InvokeModel bodies for the two embedding families it serves:
Amazon Titan (`amazon.titan-embed-*`: one text per call) and Cohere (`cohere.embed-*`: up
to `COHERE_MAX_TEXTS` texts per call).

Usage: InvokeModel reports the input tokens it counted in the `X-Amzn-Bedrock-Input-Token-Count`
header of every answer; Titan's body repeats it (`inputTextTokenCount`), Cohere's has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.errors import InvalidRequest
from core.router.limits import estimate_texts
from gateway.v1.route_service_pb2 import EmbedRequest, EmbedResponse

COHERE_MAX_TEXTS = 96
"""Most texts Cohere's embed models on Bedrock take in one call (a 400 beyond)."""
INPUT_TOKENS_HEADER = "x-amzn-bedrock-input-token-count"

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
    texts = list(request.inputs)
    return [
        {"texts": texts[start : start + COHERE_MAX_TEXTS], **options}
        for start in range(0, len(texts), COHERE_MAX_TEXTS)
    ]


def embedding_result(
    model: str, bodies: list[dict[str, Any]], answers: list[tuple[Any, Mapping[str, str]]]
) -> EmbedResponse:
    """The EmbedResponse for `embed_bodies`' calls and their (body, headers) answers, in the
    same order; raises on a malformed one.

    `model` is left for the caller to name as `account/model`.
    """
    response = EmbedResponse()
    titan = _family(model) == "titan"
    tokens = 0
    for body, (answer, headers) in zip(bodies, answers, strict=True):
        if titan:
            vectors = [answer["embedding"]]
        else:
            vectors = answer["embeddings"]
            if isinstance(vectors, dict):  # `embedding_types` asked: floats are under "float"
                vectors = vectors["float"]
        for values in vectors:
            response.embeddings.add(index=len(response.embeddings), values=values)
        tokens += _input_tokens(body, answer, headers, titan=titan)
    response.usage.input_tokens = tokens
    response.usage.total_tokens = tokens
    return response


def _input_tokens(
    body: dict[str, Any], answer: Any, headers: Mapping[str, str], *, titan: bool
) -> int:
    counted = headers.get(INPUT_TOKENS_HEADER)
    if counted is not None and counted.isdigit():
        return int(counted)
    if titan and answer.get("inputTextTokenCount") is not None:
        return int(answer["inputTextTokenCount"])
    # Bedrock counted and bills these tokens but did not say how many: the gateway's own
    # estimate (the one admission reserves with) beats a 0 that budgets would take as true.
    texts = [body["inputText"]] if titan else body["texts"]
    return estimate_texts(texts, None).tokens
