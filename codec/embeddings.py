"""Embeddings request/response JSON <-> EmbedRequest / EmbedResponse."""

from __future__ import annotations

import base64
import binascii
import sys
from array import array
from collections.abc import Mapping
from typing import Any

from codec.chat_response import fill_usage
from codec.errors import CodecError, rejects_surrogates
from codec.fields import INT32_MAX, as_int, as_list, as_str, json_type
from codec.values import fill_struct, merge_extras
from gateway.v1 import route_service_pb2

_BIG_ENDIAN = sys.byteorder == "big"
_INPUT_ERROR = "`input` must be a string, an array of strings or an array of token arrays"


@rejects_surrogates
def embed_request_from_json(body: Mapping[str, Any]) -> route_service_pb2.EmbedRequest:
    """Translate a client's embeddings request; token-array inputs travel in extras["input"]."""
    if not isinstance(body, Mapping):
        raise CodecError("the request body must be a JSON object")
    request = route_service_pb2.EmbedRequest()
    extras: dict[str, Any] = {}
    for key, value in body.items():
        if key == "model" and value is not None:
            request.model = as_str(value, "", key)
        elif key == "input":
            _fill_input(request, value, extras)
        elif key == "dimensions" and value is not None:
            request.dimensions = as_int(value, "", key)
        elif key == "user" and value is not None:
            request.user = as_str(value, "", key)
        else:
            extras[key] = value
    if not request.model:
        raise CodecError("`model` is required", "model")
    if "input" not in body:
        raise CodecError("`input` is required", "input")
    if extras:
        fill_struct(request.extras, extras, None)
    return request


def embed_request_to_json(request: route_service_pb2.EmbedRequest) -> dict[str, Any]:
    """The upstream body; always asks for floats, which the facade re-encodes for its client."""
    out: dict[str, Any] = {"model": request.model}
    if request.inputs:
        out["input"] = list(request.inputs)
    if request.HasField("dimensions"):
        out["dimensions"] = request.dimensions
    if request.HasField("user"):
        out["user"] = request.user
    merge_extras(out, request.extras)
    out["encoding_format"] = "float"
    return out


def embed_response_to_json(
    response: route_service_pb2.EmbedResponse, *, encoding_format: str = "float"
) -> dict[str, Any]:
    """OpenAI's embeddings list; "base64" packs each vector as little-endian float32 bytes.

    The openai SDK asks for base64 by default and decodes it with numpy or array('f').
    """
    if encoding_format == "float":
        data = [
            {"object": "embedding", "index": item.index, "embedding": list(item.values)}
            for item in response.embeddings
        ]
    elif encoding_format == "base64":
        data = [
            {"object": "embedding", "index": item.index, "embedding": _to_base64(item.values)}
            for item in response.embeddings
        ]
    else:
        raise CodecError("`encoding_format` must be float or base64", "encoding_format")
    return {
        "object": "list",
        "data": data,
        "model": response.model,
        "usage": {
            "prompt_tokens": response.usage.input_tokens,
            "total_tokens": response.usage.total_tokens,
        },
    }


@rejects_surrogates
def embed_response_from_json(body: Mapping[str, Any]) -> route_service_pb2.EmbedResponse:
    """A provider's embeddings list, sorted by index; base64 vectors are decoded too."""
    if not isinstance(body, Mapping):
        raise CodecError("the response body must be a JSON object")
    response = route_service_pb2.EmbedResponse()
    vectors: list[tuple[int, Any]] = []
    for i, item in enumerate(as_list(body.get("data"), "", "data")):
        where = f"data[{i}]"
        if not isinstance(item, dict):
            raise CodecError(f"`{where}` must be an object, got {json_type(item)}", where)
        index = item.get("index")
        index = i if index is None else as_int(index, where, "index", 0, INT32_MAX)
        vector = item.get("embedding")
        if isinstance(vector, str):
            vector = _from_base64(vector, f"{where}.embedding")
        vectors.append((index, as_list(vector, where, "embedding")))
    vectors.sort(key=lambda pair: pair[0])
    for index, vector in vectors:
        embedding = response.embeddings.add()
        embedding.index = index
        try:
            embedding.values.extend(vector)
        except (TypeError, ValueError) as exc:
            path = f"data[{index}].embedding"
            raise CodecError(f"`{path}` must be an array of numbers", path) from exc
    model = body.get("model")
    response.model = "" if model is None else as_str(model, "", "model")
    fill_usage(response.usage, body.get("usage"))
    return response


def _fill_input(
    request: route_service_pb2.EmbedRequest, value: Any, extras: dict[str, Any]
) -> None:
    if isinstance(value, str):
        request.inputs.append(value)
        return
    if not isinstance(value, list) or not value:
        raise CodecError(_INPUT_ERROR, "input")
    if all(isinstance(item, str) for item in value):
        request.inputs.extend(value)
    elif all(_is_token(item) for item in value) or all(
        isinstance(item, list) and item and all(_is_token(token) for token in item)
        for item in value
    ):
        extras["input"] = value  # token ids: only the provider can make sense of them
    else:
        raise CodecError(_INPUT_ERROR, "input")


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _to_base64(values: Any) -> str:
    packed = array("f", values)
    if _BIG_ENDIAN:
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def _from_base64(text: str, path: str) -> list[float]:
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise CodecError(f"`{path}` is not valid base64", path) from exc
    if len(raw) % 4:
        raise CodecError(f"`{path}` is not a whole number of float32 values", path)
    packed = array("f")
    packed.frombytes(raw)
    if _BIG_ENDIAN:
        packed.byteswap()
    return packed.tolist()
