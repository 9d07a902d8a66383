"""Every documented HTTP operation, fuzzed from the OpenAPI document (schemathesis).

Bodies, parameters and headers, valid and invalid by the document, go through uvicorn, the
facade, core and the SQLite store of a real gateway (mock provider). With the admin key every
answer is a status its operation documents, never a 5xx, and every error is OpenAI's envelope.
Without a key, or with one the gateway never issued, every operation answers 401 whatever the
rest of the request holds: the key is checked before the body.

The cases are derandomized (the same on every run, so a failure is a bug, not bad luck) and
bounded: about 30 per operation and 8 per operation without a good key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings, strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.providers.mock import MAX_EMBEDDING_DIMENSIONS
from facade.anthropic.errors import error_kind
from facade.app import create_app
from facade.settings import FacadeSettings
from gateway_client import GatewayClient
from tests.conftest import MOCK_CONFIG
from tests.harness import RunningGateway, run_gateway

FUZZ_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
KEYLESS_SETTINGS = settings(FUZZ_SETTINGS, max_examples=8)
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
UNKNOWN_KEY = "sk-not-a-key-of-this-gateway"
METADATA_HEADER = "X-TFY-METADATA"


def openapi_document() -> dict[str, Any]:
    """The document `/openapi.json` serves (no configuration changes it)."""
    # Built, not fetched: pytest makes the tests at collection, before any gateway runs. The
    # client opens its channel in the app's lifespan, which never runs here.
    return create_app(FacadeSettings(), GatewayClient("localhost:1")).openapi()


schema = schemathesis.openapi.from_dict(openapi_document())
schema.config.generation.update(modes=list(GenerationMode))

# A random model name stops at "unknown model"; half the bodies name a configured model
# instead, so the fuzzing reaches core's router, the provider and the log writer.
CONFIGURED = {
    "/chat/completions": "mock-main/echo",
    "/completions": "mock-main/echo",
    "/responses": "mock-main/echo",
    "/embeddings": "mock-main/embed",
    "/messages": "mock-main/echo",
    "/messages/count_tokens": "mock-main/echo",
}
METADATA_JSON = (
    st.dictionaries(
        st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=8),
        st.text(max_size=12),
        max_size=4,
    )
    # Sent as the UTF-8 bytes of the JSON, as clients do (HTTP headers carry latin-1 text).
    .map(lambda metadata: orjson.dumps(metadata).decode("latin-1"))
    # DEL (which JSON leaves unescaped) makes a request that is not HTTP: uvicorn refuses it
    # before the app runs.
    .filter(lambda text: "\x7f" not in text)
)


@schema.hook("flatmap_body")
def _configured_model(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    path = context.operation.path if context.operation else ""
    model = next((m for end, m in CONFIGURED.items() if path.endswith(end)), None)
    if model is None or not isinstance(body, dict) or "model" not in body:
        return st.just(body)
    return st.sampled_from([body, {**body, "model": model}])


@schema.hook("filter_body")
def _no_injected_faults(context: schemathesis.HookContext, body: Any) -> bool:
    # The mock provider fails on purpose when a body asks it to (core/providers/mock.py).
    return not (isinstance(body, dict) and "mock" in body)


@schema.hook("flatmap_headers")
def _valid_metadata(
    context: schemathesis.HookContext, headers: dict[str, Any] | None
) -> st.SearchStrategy[Any]:
    # Random text is rarely a JSON object; valid metadata gets past core's check as well.
    if not headers or METADATA_HEADER not in headers:
        return st.just(headers)
    return st.one_of(
        st.just(headers), METADATA_JSON.map(lambda text: {**headers, METADATA_HEADER: text})
    )


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[RunningGateway]:
    """A gateway of its own: the fuzzing creates keys and logs no other test expects."""
    with run_gateway(MOCK_CONFIG) as running:
        yield running


@pytest.fixture
def http(fuzzed: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fuzzed.http_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as opened:
        yield opened


def assert_envelope(status: int, body: Any) -> dict[str, Any]:
    """OpenAI's error envelope with `status`'s type, and nothing else."""
    assert body.keys() == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error.keys() == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert error["type"] == (
        {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}.get(
            status, "invalid_request_error"
        )
    )
    return error


def _call(
    case: schemathesis.Case, url: str, session: requests.Session, authorization: str | None
) -> schemathesis.Response:
    # Our key alone: drop whatever Authorization the case was generated with.
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    extra = {} if authorization is None else {"authorization": authorization}
    return case.call(base_url=url, session=session, headers=extra, timeout=30)


def _show(case: schemathesis.Case) -> str:
    return f"{case.method} {case.formatted_path} headers={case.headers} body={case.body!r:.300}"


def assert_anthropic_envelope(status: int, body: Any) -> dict[str, Any]:
    """Anthropic's error envelope with `status`'s type (facade/anthropic/errors.py)."""
    assert body.keys() == {"type", "error"}, body
    assert body["type"] == "error"
    error: dict[str, Any] = body["error"]
    assert error.keys() == {"type", "message"}, error
    assert error["message"]
    assert error["type"] == error_kind(status)
    return error


def _envelope_of(response: schemathesis.Response, path: str = "") -> dict[str, Any]:
    assert response.headers.get("content-type") == ["application/json"], response.headers
    # The Messages routes answer Anthropic's envelope; a 405 or 431 comes from before any
    # route, in OpenAI's.
    if "/messages" in path and response.status_code not in (405, 431):
        return assert_anthropic_envelope(response.status_code, response.json())
    return assert_envelope(response.status_code, response.json())


@schema.parametrize()
@FUZZ_SETTINGS
def test_with_the_admin_key_every_answer_is_documented_and_none_is_a_5xx(
    case: schemathesis.Case, fuzzed: RunningGateway, session: requests.Session
) -> None:
    response = _call(case, fuzzed.http_url, session, f"Bearer {fuzzed.admin_key}")
    assert response.status_code < 500, (_show(case), response.text)
    case.validate_response(response, checks=CHECKS)
    if response.status_code >= 400:
        _envelope_of(response, case.operation.path)


@schema.parametrize()
@KEYLESS_SETTINGS
def test_without_a_key_every_operation_answers_401(
    case: schemathesis.Case, fuzzed: RunningGateway, session: requests.Session
) -> None:
    _assert_refused(case, _call(case, fuzzed.http_url, session, None))


@schema.parametrize()
@KEYLESS_SETTINGS
def test_with_an_unknown_key_every_operation_answers_401(
    case: schemathesis.Case, fuzzed: RunningGateway, session: requests.Session
) -> None:
    _assert_refused(case, _call(case, fuzzed.http_url, session, f"Bearer {UNKNOWN_KEY}"))


def _assert_refused(case: schemathesis.Case, response: schemathesis.Response) -> None:
    if case.method.upper() != case.operation.method.upper():
        # Negative cases also try methods the path does not serve (TRACE, ...). Which methods
        # a route has is no secret: 405 says so before any key is read.
        assert response.status_code == 405, (_show(case), response.text)
        assert _envelope_of(response)["code"] == "method_not_allowed"
        return
    assert response.status_code == 401, (_show(case), response.text)
    error = _envelope_of(response, case.operation.path)
    if "code" in error:  # OpenAI's envelope; Anthropic's has only the type checked above
        assert error["code"] == "invalid_api_key"


def test_the_gateway_serves_the_fuzzed_document_and_its_open_routes_need_no_key(
    http: httpx.Client,
) -> None:
    served = http.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == openapi_document()
    assert http.get("/healthz").status_code == 200
    assert http.get("/metrics").status_code == 200  # open while GATEWAY_METRICS_TOKEN is unset


# --- What the fuzzing found, pinned ------------------------------------------------------------


@pytest.mark.parametrize("dimensions", [MAX_EMBEDDING_DIMENSIONS + 1, 10**15, 0, -5])
def test_embedding_dimensions_the_mock_cannot_build_are_a_400(
    http: httpx.Client, fuzzed: RunningGateway, dimensions: int
) -> None:
    # 10**15 used to stall the gateway's event loop (every request) building the vector;
    # a negative size was a 500.
    response = http.post(
        "/v1/embeddings",
        json={"model": "mock-main/embed", "input": "hi", "dimensions": dimensions},
        headers={"authorization": f"Bearer {fuzzed.admin_key}"},
    )
    assert response.status_code == 400, response.text
    error = assert_envelope(400, response.json())
    assert (error["code"], error["param"]) == ("upstream_rejected", "dimensions")
    assert f"between 1 and {MAX_EMBEDDING_DIMENSIONS}" in error["message"]


def test_embedding_dimensions_at_the_mock_limit_are_built(
    http: httpx.Client, fuzzed: RunningGateway
) -> None:
    response = http.post(
        "/v1/embeddings",
        json={"model": "mock-main/embed", "input": "hi", "dimensions": MAX_EMBEDDING_DIMENSIONS},
        headers={"authorization": f"Bearer {fuzzed.admin_key}"},
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["data"][0]["embedding"]) == MAX_EMBEDDING_DIMENSIONS


@pytest.mark.parametrize(
    ("method", "path", "content"),
    [
        ("POST", "/v1/chat/completions", b"not even JSON"),
        ("POST", "/v1/embeddings", b'{"model": 7}'),
        ("POST", "/api/svc/v1/keys", b'{"subject": 1}'),
        ("POST", "/api/svc/v1/llm-gateway/requests", b'{"limit": "many"}'),
        ("POST", "/api/svc/v1/llm-gateway/metrics/query", b"[]"),
        ("GET", "/api/svc/v1/keys?include_revoked=perhaps", b""),
    ],
)
@pytest.mark.parametrize("authorization", [None, f"Bearer {UNKNOWN_KEY}"])
def test_a_bad_request_without_a_good_key_is_a_401_not_a_400(
    http: httpx.Client, method: str, path: str, content: bytes, authorization: str | None
) -> None:
    # With an unknown key each used to be told what was wrong with its body or query, as was
    # the query without a key: the facade checked them before core checked the key.
    headers = {} if authorization is None else {"authorization": authorization}
    response = http.request(method, path, content=content, headers=headers)
    assert response.status_code == 401, response.text
    assert assert_envelope(401, response.json())["code"] == "invalid_api_key"


def test_a_bad_request_with_a_good_key_is_still_a_400(
    http: httpx.Client, fuzzed: RunningGateway
) -> None:
    response = http.post(
        "/v1/chat/completions",
        content=b"not even JSON",
        headers={"authorization": f"Bearer {fuzzed.admin_key}"},
    )
    assert response.status_code == 400, response.text
    assert assert_envelope(400, response.json())["code"] == "invalid_json"
