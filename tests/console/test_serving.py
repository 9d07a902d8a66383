"""The console's files over HTTP: security headers on every answer, no key, nothing outside.

These run in both passes of `make test` (no browser): against the in-thread gateway for real
HTTP parsing (uvicorn decodes the raw paths the traversal cases send), and on the resolver.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from fnmatch import fnmatch
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from facade.app import create_app
from facade.console.assets import STATIC_ROOT, find_asset
from facade.settings import FacadeSettings
from gateway_client import GatewayClient
from tests.harness import RunningGateway

ROOT = Path(__file__).resolve().parents[2]
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
ASSETS = {
    "/console/app.js": "text/javascript; charset=utf-8",
    "/console/pages/logs.js": "text/javascript; charset=utf-8",
    "/console/style.css": "text/css; charset=utf-8",
    "/console/icon.svg": "image/svg+xml",
}
TRAVERSALS = [
    "/console/../../pyproject.toml",
    "/console/../facade/console/__init__.py",
    "/console/pages/../../../pyproject.toml",
    "/console/%2e%2e/%2e%2e/pyproject.toml",
    "/console/%2E%2E/%2E%2E/pyproject.toml",
    "/console/..%2f..%2fpyproject.toml",
    "/console/%2e%2e%2f%2e%2e%2fpyproject.toml",
    "/console/.%2e/.%2e/pyproject.toml",
    "/console/%252e%252e/%252e%252e/pyproject.toml",
    "/console/..%5c..%5cpyproject.toml",
    "/console/%2fetc%2fpasswd",
    "/console//etc/passwd",
    "/console/%00app.js",
    "/console/app.js%00.css",
    "/console/.gitignore.js",
]


@pytest.fixture
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.http_url) as client:  # no key
        yield client


def raw_get(base_url: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET `path` exactly as written (httpx would resolve the dot segments first)."""
    parts = urlsplit(base_url)
    assert parts.hostname is not None
    connection = HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        connection.close()


def assert_console_headers(headers: httpx.Headers | dict[str, str]) -> None:
    assert headers["content-security-policy"] == CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-cache"


def test_the_root_answers_the_console_page_without_a_key(http: httpx.Client) -> None:
    response = http.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert_console_headers(response.headers)
    assert '<script type="module" src="/console/app.js"></script>' in response.text
    assert response.content == (STATIC_ROOT / "index.html").read_bytes()


@pytest.mark.parametrize(("path", "content_type"), ASSETS.items())
def test_assets_answer_with_their_type_and_the_headers(
    http: httpx.Client, path: str, content_type: str
) -> None:
    response = http.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == content_type
    assert_console_headers(response.headers)
    assert response.content == (STATIC_ROOT / path.removeprefix("/console/")).read_bytes()


def test_a_known_etag_is_answered_304(http: httpx.Client) -> None:
    first = http.get("/console/app.js")
    again = http.get("/console/app.js", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert_console_headers(again.headers)
    assert http.get("/console/app.js", headers={"if-none-match": '"other"'}).status_code == 200


def test_head_answers_the_headers(http: httpx.Client) -> None:
    response = http.head("/console/style.css")
    assert response.status_code == 200
    assert_console_headers(response.headers)


@pytest.mark.parametrize(
    "path", ["/console/nope.js", "/console/", "/console/pages", "/console/x.py"]
)
def test_an_unknown_asset_is_a_404_in_the_error_envelope(http: httpx.Client, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert_console_headers(response.headers)


@pytest.mark.parametrize("path", TRAVERSALS)
def test_paths_out_of_the_static_folder_are_refused(gateway: RunningGateway, path: str) -> None:
    status, headers, body = raw_get(gateway.http_url, path)
    assert status in (400, 404), (path, status)
    assert b"[build-system]" not in body
    assert b"root:" not in body
    assert b"attach_console" not in body
    if status == 404 and headers.get("content-type") == "application/json":
        assert b'"code":"not_found"' in body


def test_the_resolver_refuses_a_link_out_of_the_folder(tmp_path: Path) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "ok.js").write_text("export {};")
    (tmp_path / "secret.js").write_text("secret")
    (static / "link.js").symlink_to(tmp_path / "secret.js")
    (static / "dir.js").mkdir()
    assert find_asset("ok.js", static) == (static / "ok.js").resolve()
    for refused in ("link.js", "dir.js", "../secret.js", "", "ok.js/", "a/b/c/d/e.js", ".ok.js"):
        assert find_asset(refused, static) is None, refused


def test_the_console_is_not_in_the_openapi_document() -> None:
    document = create_app(FacadeSettings(), GatewayClient("localhost:1")).openapi()
    assert "/" not in document["paths"]
    assert not [path for path in document["paths"] if path.startswith("/console")]


def test_every_static_file_ships_in_the_package() -> None:
    # The wheel carries what `package-data` lists; a file it misses would 404 once installed.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["facade.console"]
    package = STATIC_ROOT.parent
    files = [p.relative_to(package).as_posix() for p in STATIC_ROOT.rglob("*") if p.is_file()]
    assert "static/index.html" in files
    missed = [f for f in files if not any(fnmatch(f, pattern) for pattern in patterns)]
    assert missed == []


def test_no_console_file_builds_html_from_strings() -> None:
    # Every value reaches the page as a text node (ui.js h()); these are the ways around that.
    # (The CSP would refuse eval and inline styles anyway; this finds them before a browser.)
    forbidden = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
        r"setAttribute\(\s*[\"']on|style=|<script>"
    )
    found = [
        f"{path.relative_to(STATIC_ROOT)}:{number}: {line.strip()}"
        for path in sorted(STATIC_ROOT.rglob("*"))
        if path.suffix in (".js", ".html")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if forbidden.search(line) and not line.lstrip().startswith(("//", "*", "/*"))
    ]
    assert found == []
