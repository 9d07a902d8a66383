"""Each generator, offline: the snippet is valid code and sends exactly the request it was given.

The HTTP snippets are run against a server that records what they send; the gRPC one is
executed up to the call, and its ChatParams compared with what the codec builds for the
HTTP route. Every request carries a hostile string in every place a caller's value can reach.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from facade.codegen.registry import TARGETS
from facade.codegen.spec import API_KEY_ENV, GRPC_TARGET_ENV, ChatSpec, parse_chat_request
from tests.codegen.capture import ANSWER, capture_server
from tests.codegen.cases import GRPC_TARGET, VARIANTS, hostile_request, spec_of, variant
from tests.codegen.run import KEY, needs, run_snippet

HTTP_TARGETS = [
    ("python", "openai"),
    ("python", "requests"),
    pytest.param("curl", None, marks=needs("curl")),
    pytest.param("javascript", "fetch", marks=needs("node")),
]
SPECS = {name: spec_of(variant(name, {"app": "x"})) for name in VARIANTS}
SPECS["hostile"] = spec_of(hostile_request())
SPECS["plain"] = spec_of({"model": "m", "messages": [{"role": "user", "content": "hi"}]})


def render(language: str, library: str | None, spec: ChatSpec) -> tuple[str, str]:
    target = TARGETS[(language, library)]
    return target.render(spec), target.filename


@pytest.mark.parametrize(("language", "library"), HTTP_TARGETS)
def test_http_snippets_send_exactly_the_request_with_metadata_and_key(
    language: str, library: str | None, tmp_path: Path
) -> None:
    with capture_server() as server:
        base_url = f"{server.url}/api/inference/openai"
        spec = parse_chat_request(hostile_request(), base_url=base_url, grpc_target=GRPC_TARGET)
        code, filename = render(language, library, spec)
        done = run_snippet(code, filename, tmp_path)
        sent = server.only()
    assert sent.path == "/api/inference/openai/chat/completions"
    assert sent.body == spec.body
    assert "metadata" not in sent.body
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(sent.headers["x-tfy-metadata"]) == hostile_request()["metadata"]
    assert ANSWER in done.stdout
    assert KEY not in code


@pytest.mark.parametrize("name", SPECS)
def test_the_grpc_snippet_builds_the_params_the_http_route_builds(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = SPECS[name]
    monkeypatch.setenv(API_KEY_ENV, KEY)
    module = before_the_call(render("python", "grpc", spec)[0])
    assert module["API_KEY"] == KEY
    assert module["PARAMS"] == spec.params
    assert module.get("METADATA", {}) == spec.metadata
    assert module["TARGET"] == GRPC_TARGET
    monkeypatch.setenv(GRPC_TARGET_ENV, "elsewhere:1234")
    assert before_the_call(render("python", "grpc", spec)[0])["TARGET"] == "elsewhere:1234"


def before_the_call(code: str) -> dict[str, Any]:
    """The module's names after its top-level statements, less the final `asyncio.run(...)`."""
    tree = ast.parse(code)
    last = tree.body.pop()
    assert ast.unparse(last) == "asyncio.run(main())"
    namespace: dict[str, Any] = {}
    exec(compile(tree, "<snippet>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("name", SPECS)
@pytest.mark.parametrize("library", ["openai", "requests", "langchain", "grpc"])
def test_python_snippets_are_modules_reading_the_key_from_the_environment(
    library: str, name: str
) -> None:
    code, _ = render("python", library, SPECS[name])
    tree = ast.parse(code)
    docstring = ast.get_docstring(tree)
    assert docstring is not None
    assert API_KEY_ENV in docstring
    assert f'os.environ["{API_KEY_ENV}"]' in code or f"os.environ['{API_KEY_ENV}']" in code


@pytest.mark.parametrize("library", ["openai", "requests", "langchain", "grpc"])
def test_python_snippets_are_formatted_as_ruff_formats(library: str, tmp_path: Path) -> None:
    ruff = Path(sys.executable).with_name("ruff")
    for name, spec in SPECS.items():
        path = tmp_path / f"{name}.py"
        path.write_text(render("python", library, spec)[0])
    checked = subprocess.run(
        [str(ruff), "format", "--isolated", "--diff", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    linted = subprocess.run(
        [
            str(ruff),
            "check",
            "--isolated",
            "--select",
            "E,F,W,B,UP,SIM,I",
            "--ignore",
            "E501",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout


@pytest.mark.parametrize("name", SPECS)
def test_the_langchain_snippet_makes_the_same_request(name: str) -> None:
    spec = SPECS[name]
    tree = ast.parse(render("python", "langchain", spec)[0])
    calls = {ast.unparse(node.func): node for node in ast.walk(tree) if isinstance(node, ast.Call)}
    constructor = {kw.arg: kw.value for kw in calls["ChatOpenAI"].keywords}
    assert ast.unparse(constructor.pop("api_key")) == f"os.environ['{API_KEY_ENV}']"
    fields = {name: ast.literal_eval(value) for name, value in constructor.items()}
    assert fields.pop("base_url") == spec.base_url
    headers = fields.pop("default_headers", {})
    assert headers == ({"X-TFY-METADATA": spec.metadata_header} if spec.metadata else {})
    assert fields.pop("stream_usage", False) is spec.include_usage
    fields.update(fields.pop("extra_body", {}))
    if "llm.bind_tools" in calls:
        fields.update(
            {kw.arg: ast.literal_eval(kw.value) for kw in calls["llm.bind_tools"].keywords}
        )
    messages = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "messages"
    )
    fields["messages"] = ast.literal_eval(messages)
    expected = {k: v for k, v in spec.body.items() if k not in ("stream", "stream_options")}
    assert fields == expected
    assert ("llm.stream" in calls) is spec.stream


@needs("node")
@pytest.mark.parametrize("library", ["openai", "fetch"])
def test_javascript_snippets_are_valid_modules(library: str, tmp_path: Path) -> None:
    for name, spec in SPECS.items():
        code, filename = render("javascript", library, spec)
        assert filename.endswith(".mjs")
        path = tmp_path / f"{name}-{filename}"
        path.write_text(code)
        subprocess.run(["node", "--check", str(path)], check=True, capture_output=True)


@needs("bash")
def test_the_curl_snippet_is_one_valid_command(tmp_path: Path) -> None:
    for name, spec in SPECS.items():
        code, filename = render("curl", None, spec)
        path = tmp_path / f"{name}-{filename}"
        path.write_text(code)
        subprocess.run(["bash", "-n", str(path)], check=True, capture_output=True)
        assert ("--no-buffer" in code) is spec.stream


@needs("bash")
def test_the_curl_snippet_stops_when_the_key_is_unset(tmp_path: Path) -> None:
    code, _ = render("curl", None, SPECS["plain"])
    done = subprocess.run(
        ["bash", "-c", code], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}
    )
    assert done.returncode != 0
    assert f"set {API_KEY_ENV}" in done.stderr


@pytest.mark.skipif(
    find_spec("langchain_openai") is None, reason="langchain-openai is not installed"
)
def test_the_langchain_snippet_sends_the_request(tmp_path: Path) -> None:
    with capture_server() as server:
        base_url = f"{server.url}/api/inference/openai"
        spec = parse_chat_request(variant("tools", {"app": "x"}), base_url=base_url, grpc_target="")
        run_snippet(render("python", "langchain", spec)[0], "chat_langchain.py", tmp_path)
        sent = server.only()
    assert sent.body["messages"] == spec.body["messages"]
    assert json.loads(sent.headers["x-tfy-metadata"]) == {"app": "x"}
