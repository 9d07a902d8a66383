"""The OpenAI SDK snippets for JavaScript and TypeScript, with the `openai` npm package.

The packages are installed from the npm registry into the test's temporary directory; when
that fails (no network, no npm), these tests are skipped, never failed. TypeScript snippets
are type-checked with `tsc --strict`, compiled, and run like the JavaScript ones.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from facade.codegen.registry import TARGETS
from facade.codegen.spec import parse_chat_request
from tests.codegen.capture import ANSWER, capture_server
from tests.codegen.cases import GRPC_TARGET, METADATA, VARIANTS, hostile_request, variant
from tests.codegen.run import KEY, run_file, run_snippet
from tests.codegen.snippets import assert_printed, generate
from tests.harness import RunningGateway

# openai 7 needs Node.js 22; the snippets use the API that 4 to 7 share.
PACKAGES = ["openai@6", "typescript@7", "@types/node@20"]
TSC_OPTIONS = ["--strict", "--target", "es2022", "--module", "nodenext", "--types", "node"]


@pytest.fixture(scope="module")
def npm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory whose node_modules holds PACKAGES; skips the module when they won't install."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node or npm is not installed")
    directory = tmp_path_factory.mktemp("npm")
    try:
        installed = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", *PACKAGES],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm install {' '.join(PACKAGES)} did not finish in 300 s")
    if installed.returncode != 0:
        pytest.skip(f"npm install {' '.join(PACKAGES)} failed: {installed.stderr[-500:]}")
    return directory


@pytest.mark.parametrize("name", VARIANTS)
def test_the_javascript_openai_snippet_runs(
    gateway: RunningGateway, npm_dir: Path, name: str
) -> None:
    code, filename = generate(gateway, variant(name, METADATA), "javascript", "openai")
    done = run_snippet(code, f"{name}-{filename}", npm_dir, gateway.admin_key)
    assert_printed(done.stdout, name)


def test_the_javascript_openai_snippet_sends_exactly_the_request(npm_dir: Path) -> None:
    with capture_server() as server:
        base_url = f"{server.url}/api/inference/openai"
        spec = parse_chat_request(hostile_request(), base_url=base_url, grpc_target=GRPC_TARGET)
        target = TARGETS[("javascript", "openai")]
        done = run_snippet(target.render(spec), f"hostile-{target.filename}", npm_dir)
        sent = server.only()
    assert sent.body == spec.body
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(sent.headers["x-tfy-metadata"]) == hostile_request()["metadata"]
    assert ANSWER in done.stdout


def test_typescript_snippets_type_check_compile_and_run(
    gateway: RunningGateway, npm_dir: Path
) -> None:
    sources = npm_dir / "ts"
    sources.mkdir()
    for name in VARIANTS:
        for library in ("openai", "fetch"):
            code, filename = generate(gateway, variant(name, METADATA), "typescript", library)
            assert filename.endswith(".mts")
            (sources / f"{name}-{filename}").write_text(code)
    out = npm_dir / "ts-out"  # under npm_dir, so that node finds node_modules
    tsc = npm_dir / "node_modules" / ".bin" / "tsc"
    checked = subprocess.run(
        [str(tsc), *TSC_OPTIONS, "--outDir", str(out), *map(str, sorted(sources.iterdir()))],
        cwd=npm_dir,  # where tsc looks for @types/node
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    compiled = sorted(out.glob("*.mjs"))
    assert len(compiled) == 2 * len(VARIANTS)
    for path in compiled:
        done = run_file(path, gateway.admin_key)
        assert_printed(done.stdout, path.name.split("-")[0])
