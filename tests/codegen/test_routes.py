"""`POST /api/svc/v1/llm-gateway/codegen` through a running gateway: key first, 400s naming
the field, and the answer's shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from facade.codegen.registry import DEFAULT_LIBRARY, LANGUAGES, LIBRARIES, TARGETS
from facade.codegen.schemas import CodegenRequest
from facade.codegen.spec import API_KEY_ENV
from tests.harness import RunningGateway

PATH = "/api/svc/v1/llm-gateway/codegen"
CHAT = {"model": "mock-main/echo", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {gateway.admin_key}"}
    with httpx.Client(base_url=gateway.http_url, headers=headers, timeout=10) as client:
        yield client


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


@pytest.mark.parametrize("body", [{"request": CHAT, "language": "python"}, {"language": 1}])
@pytest.mark.parametrize("authorization", [None, "Bearer sk-not-a-key", "Basic eDp5"])
def test_without_a_good_key_the_answer_is_401_whatever_the_body(
    http: httpx.Client, authorization: str | None, body: dict[str, Any]
) -> None:
    headers = {"authorization": authorization} if authorization else {}
    if authorization is None:
        http.headers.pop("authorization")
    error = error_of(http.post(PATH, json=body, headers=headers), 401)
    assert error["type"] == "authentication_error"


def with_chat(**changes: Any) -> dict[str, Any]:
    return {"request": {**CHAT, **changes}, "language": "python"}


BAD = [
    ({"language": "python"}, "request", "`request` is required"),
    ({"request": [], "language": "python"}, "request", "must be an object, got array"),
    ({"request": {"messages": CHAT["messages"]}, "language": "python"}, "request.model", "`model`"),
    (with_chat(messages="hi"), "request.messages", "`messages`"),
    (with_chat(messages=[]), "request.messages", "at least one message"),
    (with_chat(messages=[{"role": "wizard", "content": "x"}]), "request.messages[0].role", "role"),
    (with_chat(temperature="hot"), "request.temperature", "temperature"),
    (with_chat(stream="yes"), "request.stream", "boolean"),
    (with_chat(stream_options=[]), "request.stream_options", "object"),
    (with_chat(metadata="app=x"), "request.metadata", "object of strings"),
    (with_chat(metadata={"app": 1}), "request.metadata.app", "'app' is integer"),
    ({"request": CHAT}, "language", "python, javascript, typescript, curl"),
    ({"request": CHAT, "language": "cobol"}, "language", "python, javascript, typescript, curl"),
    (
        {"request": CHAT, "language": "python", "library": "axios"},
        "library",
        "openai, requests, langchain, fetch, grpc",
    ),
    (
        {"request": CHAT, "language": "python", "library": "fetch"},
        "library",
        "'fetch' is not available for python; use one of: openai, requests, langchain, grpc",
    ),
    (
        {"request": CHAT, "language": "typescript", "library": "grpc"},
        "library",
        "use one of: openai, fetch",
    ),
    ({"request": CHAT, "language": "curl", "library": "openai"}, "library", "omitted for curl"),
    ({"request": CHAT, "language": "python", "lang": "x"}, "lang", "Unknown field 'lang'"),
]


@pytest.mark.parametrize(("body", "param", "message"), BAD)
def test_bad_input_is_a_400_naming_the_field(
    http: httpx.Client, body: dict[str, Any], param: str, message: str
) -> None:
    error = error_of(http.post(PATH, json=body), 400)
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "invalid_request",
        param,
    )
    assert message in error["message"]


def test_a_body_that_is_not_json_is_a_400(http: httpx.Client) -> None:
    error = error_of(http.post(PATH, content=b"{not json"), 400)
    assert error["code"] == "invalid_json"


@pytest.mark.parametrize(("language", "library"), sorted(TARGETS, key=str))
def test_every_target_answers_code_a_filename_and_the_key_variable(
    http: httpx.Client, gateway: RunningGateway, language: str, library: str | None
) -> None:
    body = {"request": {**CHAT, "metadata": {"app": "x"}}, "language": language}
    if library is not None:
        body["library"] = library
    response = http.post(PATH, json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert answer.keys() == {"code", "filename", "api_key_env"}
    assert answer["filename"] == TARGETS[(language, library)].filename
    assert answer["api_key_env"] == API_KEY_ENV
    assert API_KEY_ENV in answer["code"]
    assert gateway.admin_key not in answer["code"]
    assert "X-TFY-METADATA" in answer["code"] or library == "grpc"
    expected = f"{gateway.http_url}/api/inference/openai"
    assert (expected in answer["code"]) is (library != "grpc")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_missing_or_null_library_is_the_languages_default(
    http: httpx.Client, language: str
) -> None:
    default = TARGETS[(language, DEFAULT_LIBRARY[language])].filename
    for body in (
        {"request": CHAT, "language": language},
        {"request": CHAT, "language": language, "library": None},
    ):
        assert http.post(PATH, json=body).json()["filename"] == default


def test_urls_are_the_ones_the_caller_reached_the_gateway_at(http: httpx.Client) -> None:
    headers = {"host": "gateway.example.com:8443"}
    python = http.post(PATH, json={"request": CHAT, "language": "python"}, headers=headers)
    assert (
        'base_url="http://gateway.example.com:8443/api/inference/openai"' in python.json()["code"]
    )
    body = {"request": CHAT, "language": "python", "library": "grpc"}
    grpc = http.post(PATH, json=body, headers={"host": "[::1]:8080"})
    assert '"LLM_GATEWAY_GRPC_TARGET", "[::1]:50051"' in grpc.json()["code"]


def test_the_documented_body_names_the_values_the_registry_takes() -> None:
    properties = CodegenRequest.model_json_schema()["properties"]
    assert properties["language"]["enum"] == list(LANGUAGES)
    assert properties["library"]["anyOf"][0]["enum"] == list(LIBRARIES)
    assert {language for language, _ in TARGETS} == set(LANGUAGES)
    assert {library for _, library in TARGETS} - {None} == set(LIBRARIES)
    CodegenRequest.model_validate({"request": {**CHAT, "metadata": {"a": "b"}}, "language": "curl"})
