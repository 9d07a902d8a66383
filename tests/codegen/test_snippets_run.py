"""The generated code really runs: snippets from a running gateway's codegen API, executed as
processes against that gateway (mock provider), print its answers; their metadata reaches
the request log."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.codegen.cases import METADATA, VARIANTS, variant
from tests.codegen.run import needs, run_snippet
from tests.codegen.snippets import assert_curl_printed, assert_printed, generate, snippet_env
from tests.conftest import MOCK_CONFIG
from tests.harness import RunningGateway, run_gateway

PROGRAMS = {"curl": "curl", "javascript": "node"}
"""What runs a language's snippets besides this Python."""
RUN = [
    ("python", "openai"),
    ("python", "requests"),
    ("python", "grpc"),
    ("curl", None),
    ("javascript", "fetch"),
]
TARGETS = [
    pytest.param(
        language,
        library,
        id=f"{language}-{library}" if library else language,
        marks=[needs(PROGRAMS[language])] if language in PROGRAMS else [],
    )
    for language, library in RUN
]


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize(("language", "library"), TARGETS)
def test_the_snippet_runs_and_prints_the_answer(
    gateway: RunningGateway, tmp_path: Path, language: str, library: str | None, name: str
) -> None:
    code, filename = generate(gateway, variant(name, METADATA), language, library)
    done = run_snippet(code, filename, tmp_path, gateway.admin_key, **snippet_env(gateway))
    if language == "curl":
        assert_curl_printed(done.stdout, name)
    else:
        assert_printed(done.stdout, name)


def installed(language: str) -> bool:
    return shutil.which(PROGRAMS[language]) is not None


def test_each_snippets_metadata_reaches_the_request_log(tmp_path: Path) -> None:
    targets = [(lang, lib) for lang, lib in RUN if lang not in PROGRAMS or installed(lang)]
    with run_gateway(MOCK_CONFIG, data_dir=tmp_path / "data") as gateway:
        for language, library in targets:
            metadata = {**METADATA, "snippet": f"{language}-{library}"}
            code, filename = generate(gateway, variant("stream", metadata), language, library)
            run_snippet(code, filename, tmp_path, gateway.admin_key, **snippet_env(gateway))
    # Stopping drained the log pipeline into the store; a new gateway over it reads it back.
    with run_gateway(MOCK_CONFIG, data_dir=tmp_path / "data") as gateway:
        response = httpx.post(
            f"{gateway.http_url}/api/svc/v1/llm-gateway/requests",
            headers={"authorization": f"Bearer {gateway.admin_key}"},
            json={"filter": {"metadata.application": [{"value": "codegen-test"}]}, "limit": 100},
            timeout=10,
        )
    assert response.status_code == 200, response.text
    records = response.json()["data"]
    assert sorted(record["metadata"]["snippet"] for record in records) == sorted(
        f"{language}-{library}" for language, library in targets
    )
    for record in records:
        assert record["metadata"] == {**METADATA, "snippet": record["metadata"]["snippet"]}
        assert record["stream"] is True
        assert record["status"] == "success"
        assert record["request"]["temperature"] == 0.2
