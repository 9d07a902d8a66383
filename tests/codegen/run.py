"""Runs a generated snippet as its user would: a file, a process, the key in the environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from facade.codegen.spec import API_KEY_ENV

KEY = "sk-test-key"
RUNNERS = {".py": [sys.executable], ".sh": ["bash"], ".mjs": ["node"]}


def needs(program: str) -> pytest.MarkDecorator:
    """Skips a test when `program` is not installed."""
    return pytest.mark.skipif(shutil.which(program) is None, reason=f"{program} is not installed")


def run_snippet(
    code: str, filename: str, directory: Path, key: str = KEY, **env: str
) -> subprocess.CompletedProcess[str]:
    """Writes `code` to `directory/filename` and runs it; fails the test if it fails."""
    path = directory / filename
    path.write_text(code)
    return run_file(path, key, **env)


def run_file(path: Path, key: str = KEY, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs the snippet at `path` in its directory, with the key in the environment."""
    environment = {**os.environ, API_KEY_ENV: key, "PYTHONUTF8": "1", **env}
    done = subprocess.run(
        [*RUNNERS[path.suffix], str(path)],
        env=environment,
        cwd=path.parent,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"{path.name} failed:\n{done.stdout}\n{done.stderr}"
    return done
