"""Embeddings request/response JSON <-> EmbedRequest / EmbedResponse."""

from __future__ import annotations

import base64
import sys
from array import array
from typing import Any

import pytest

from codec import (
    CodecError,
    embed_request_from_json,
    embed_request_to_json,
    embed_response_from_json,
    embed_response_to_json,
)
from gateway.v1 import route_service_pb2

VECTORS = [[0.1, -2.5, 3.0e-8], [1.0, 0.0, -0.0]]


def response() -> route_service_pb2.EmbedResponse:
    out = route_service_pb2.EmbedResponse(model="openai-main/te3")
    for index, vector in enumerate(VECTORS):
        out.embeddings.add(index=index, values=vector)
    out.usage.input_tokens = out.usage.total_tokens = 7
    return out


def float32(values: list[float]) -> list[float]:
    return array("f", values).tolist()


def test_string_input_and_typed_fields() -> None:
    request = embed_request_from_json(
        {"model": "m", "input": "hi", "dimensions": 256, "user": "u", "encoding_format": "base64"}
    )
    assert list(request.inputs) == ["hi"]
    assert (request.dimensions, request.user) == (256, "u")
    assert dict(request.extras) == {"encoding_format": "base64"}
    # Upstream always gets floats; the facade re-encodes for its client.
    assert embed_request_to_json(request) == {
        "model": "m",
        "input": ["hi"],
        "dimensions": 256,
        "user": "u",
        "encoding_format": "float",
    }


@pytest.mark.parametrize("tokens", [[1, 2, 3], [[1, 2], [3]]])
def test_token_inputs_travel_in_extras(tokens: list[Any]) -> None:
    request = embed_request_from_json({"model": "m", "input": tokens, "vendor": {"x": 1}})
    assert not request.inputs
    assert embed_request_to_json(request) == {
        "model": "m",
        "input": tokens,
        "vendor": {"x": 1},
        "encoding_format": "float",
    }


@pytest.mark.parametrize(
    ("body", "message", "param"),
    [
        ({"input": "x"}, "`model` is required", "model"),
        ({"model": 3, "input": "x"}, "`model` must be a string, got integer", "model"),
        ({"model": "m"}, "`input` is required", "input"),
        *(
            (
                {"model": "m", "input": bad},
                "`input` must be a string, an array of strings or an array of token arrays",
                "input",
            )
            for bad in (None, 3, [], ["a", 1], [True], [[]], [["a"]], {"a": 1})
        ),
        (
            {"model": "m", "input": "x", "dimensions": 1.5},
            "`dimensions` must be an integer, got number",
            "dimensions",
        ),
        ({"model": "m", "input": "x", "user": 1}, "`user` must be a string, got integer", "user"),
    ],
)
def test_invalid_embed_requests(body: dict[str, Any], message: str, param: str) -> None:
    with pytest.raises(CodecError) as caught:
        embed_request_from_json(body)
    assert (caught.value.message, caught.value.param) == (message, param)


def test_float_response() -> None:
    assert embed_response_to_json(response()) == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": float32(vector)}
            for index, vector in enumerate(VECTORS)
        ],
        "model": "openai-main/te3",
        "usage": {"prompt_tokens": 7, "total_tokens": 7},
    }


def test_base64_response_decodes_like_the_openai_sdk() -> None:
    data = embed_response_to_json(response(), encoding_format="base64")["data"]
    for item, vector in zip(data, VECTORS, strict=True):
        decoded = array("f")
        decoded.frombytes(base64.b64decode(item["embedding"]))
        if sys.byteorder == "big":
            decoded.byteswap()
        assert decoded.tolist() == float32(vector)


def test_unknown_encoding_format() -> None:
    with pytest.raises(CodecError) as caught:
        embed_response_to_json(response(), encoding_format="int8")
    assert caught.value.param == "encoding_format"


def test_provider_response_is_sorted_and_decoded() -> None:
    packed = base64.b64encode(array("f", VECTORS[0]).tobytes()).decode()
    parsed = embed_response_from_json(
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": 1, "embedding": VECTORS[1]},
                {"object": "embedding", "index": 0, "embedding": packed},
            ],
            "model": "te3",
            "usage": {"prompt_tokens": 4, "total_tokens": 4},
        }
    )
    assert [item.index for item in parsed.embeddings] == [0, 1]
    assert [list(item.values) for item in parsed.embeddings] == [float32(v) for v in VECTORS]
    assert (parsed.model, parsed.usage.input_tokens, parsed.usage.total_tokens) == ("te3", 4, 4)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "data"),
        ({"data": [1]}, "data[0]"),
        ({"data": [{"embedding": "***"}]}, "data[0].embedding"),
        ({"data": [{"embedding": ["x"]}]}, "data[0].embedding"),
        ({"data": [{"embedding": 1}]}, "data[0].embedding"),
    ],
)
def test_invalid_embed_responses(body: dict[str, Any], param: str) -> None:
    with pytest.raises(CodecError) as caught:
        embed_response_from_json(body)
    assert caught.value.param == param
