"""The depth limit of request bodies, and why 32: the deepest body allowed still decodes.

Each case puts free-form JSON (which travels in a google.protobuf.Struct, three protobuf
levels per object) at one place of a request, as deep as the limit allows. If protobuf ever
lowers its limit of 100 levels, or a proto gains wrapping levels, these fail first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from codec import CodecError, chat_params_from_json, check_depth
from codec.depth import MAX_JSON_DEPTH
from codec.embeddings import embed_request_from_json
from gateway.v1 import route_service_pb2 as pb


def nest(levels: int) -> Any:
    """`levels` levels of objects: nest(1) == {"a": "x"}."""
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


USER = {"role": "user", "content": "hi"}


def _chat(**fields: Any) -> dict[str, Any]:
    return {"model": "m/x", "messages": [USER], **fields}


# (case, body builder taking the levels left for the free-form part, its param)
CHAT_CASES: list[tuple[str, Callable[[int], dict[str, Any]], str]] = [
    ("top-level extras", lambda n: _chat(x=nest(n)), "x.a.a.a"),
    (
        "message extras",
        lambda n: {"model": "m/x", "messages": [{**USER, "x": nest(n)}]},
        "messages[0].x.a",
    ),
    (
        "unknown content part",
        lambda n: {
            "model": "m/x",
            "messages": [{"role": "user", "content": [{"type": "odd", "data": nest(n)}]}],
        },
        "messages[0].content[0]",
    ),
    (
        "image_url extras",
        lambda n: {
            "model": "m/x",
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "u", "x": nest(n)}}],
                }
            ],
        },
        "messages[0].content[0]",
    ),
    (
        "tool call extras",
        lambda n: {
            "model": "m/x",
            "messages": [
                USER,
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                            "x": nest(n),
                        }
                    ],
                },
            ],
        },
        "messages[1].tool_calls[0]",
    ),
    (
        "tool parameters",
        lambda n: _chat(
            tools=[{"type": "function", "function": {"name": "f", "parameters": nest(n)}}]
        ),
        "tools[0].function.parameters",
    ),
    (
        "response_format schema",
        lambda n: _chat(
            response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": nest(n)}}
        ),
        "response_format.json_schema.schema.a",
    ),
    ("tool_choice", lambda n: _chat(tool_choice={"x": nest(n)}), "tool_choice.x.a.a"),
]


def _deepest(build: Callable[[int], dict[str, Any]], depth: int) -> dict[str, Any]:
    """The body `build` makes, with its free-form part sized to a total depth of `depth`."""
    overhead = depth_of(build(100)) - 100  # levels above the free-form part
    body = build(depth - overhead)
    assert depth_of(body) == depth
    return body


@pytest.mark.parametrize(
    ("build", "param"), [pytest.param(b, p, id=case) for case, b, p in CHAT_CASES]
)
def test_the_deepest_chat_body_allowed_decodes_in_core(
    build: Callable[[int], dict[str, Any]], param: str
) -> None:
    body = _deepest(build, MAX_JSON_DEPTH)
    check_depth(body)
    params = chat_params_from_json(body)
    for request_type in (pb.RouteRequest, pb.StreamRouteRequest):
        # Wrapping copies (a serialize and a parse in upb), as the client does; then the wire.
        request = request_type(params=params)
        assert request_type.FromString(request.SerializeToString()) == request


@pytest.mark.parametrize(
    ("build", "param"), [pytest.param(b, p, id=case) for case, b, p in CHAT_CASES]
)
def test_one_level_more_is_refused_naming_the_field(
    build: Callable[[int], dict[str, Any]], param: str
) -> None:
    with pytest.raises(CodecError) as raised:
        check_depth(_deepest(build, MAX_JSON_DEPTH + 1))
    assert raised.value.param == param
    assert f"`{param}` is nested too deeply" in raised.value.message
    assert str(MAX_JSON_DEPTH) in raised.value.message


def test_the_deepest_embeddings_body_allowed_decodes_in_core() -> None:
    body = {"model": "m/e", "input": "x", "x": nest(MAX_JSON_DEPTH - 1)}
    check_depth(body)
    request = embed_request_from_json(body)
    assert pb.EmbedRequest.FromString(request.SerializeToString()) == request


def test_arrays_count_like_objects() -> None:
    deepest: Any = "x"
    for _ in range(MAX_JSON_DEPTH):
        deepest = [deepest]
    check_depth(deepest)
    with pytest.raises(CodecError) as raised:
        check_depth([deepest])
    assert raised.value.param == "[0][0][0][0]"


def test_a_document_too_deep_at_its_top_has_no_param() -> None:
    with pytest.raises(CodecError) as raised:
        check_depth({"a": 1}, limit=0)
    assert raised.value.param is None
    assert raised.value.message.startswith("The request body is nested too deeply")


def test_the_deepest_document_orjson_parses_is_checked_without_recursion() -> None:
    # 1,024 levels: orjson's own limit, past Python's default recursion limit of 1,000.
    document = orjson.loads(b'{"a":' * 1023 + b"[]" + b"}" * 1023)
    with pytest.raises(CodecError) as raised:
        check_depth(document)
    assert raised.value.param == "a.a.a.a"


def test_scalars_and_wide_documents_pass() -> None:
    check_depth("text")
    check_depth({"k": [{"a": 1}] * 10_000, "n": None})


def test_the_path_names_the_deep_branch_among_shallow_ones() -> None:
    document = {"a": 1, "b": [{"c": "x"}, {"d": nest(MAX_JSON_DEPTH)}], "z": {"y": [1]}}
    with pytest.raises(CodecError) as raised:
        check_depth(document)
    assert raised.value.param == "b[1].d.a"
