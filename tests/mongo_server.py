"""A real MongoDB wire-protocol server for the tests: `mongod` when given, else SecantusDB.

GATEWAY_TEST_MONGODB_URI points the suite at a running `mongod`. Otherwise the session starts
SecantusDB (PyPI; a MongoDB wire-protocol server on WiredTiger, installed with the test
dependencies) as a separate process on a free port. It is GPL-2.0: it runs as a server
process only, and nothing in the project imports it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.ports import free_port

MONGO_URI_ENV = "GATEWAY_TEST_MONGODB_URI"
SERVER_COMMAND = "secantusd-py"
READY_MARKER = "listening on"


def _server_command() -> str:
    # The console script sits beside the interpreter running the tests (the project's venv).
    beside = Path(sys.executable).with_name(SERVER_COMMAND)
    found = str(beside) if beside.exists() else shutil.which(SERVER_COMMAND)
    if found is None:
        raise RuntimeError(
            f"{SERVER_COMMAND} not found: install the test dependencies (`make test` does), "
            f"or set {MONGO_URI_ENV} to a running mongod"
        )
    return found


@contextmanager
def mongo_server(data_dir: Path) -> Iterator[str]:
    """Yields a `mongodb://` URI: GATEWAY_TEST_MONGODB_URI, or a SecantusDB started here."""
    given = os.environ.get(MONGO_URI_ENV)
    if given:
        yield given
        return
    port = free_port()
    command = [_server_command(), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--storage-path", str(data_dir), "--log-level", "INFO"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        seen: list[str] = []
        for line in process.stdout:  # blocks until the server says it listens
            seen.append(line)
            if READY_MARKER in line:
                break
        else:
            raise RuntimeError(f"{SERVER_COMMAND} exited before listening:\n{''.join(seen)}")
        # Keep reading its output so that a full pipe never blocks the server.
        drain = threading.Thread(target=process.stdout.read, daemon=True)
        drain.start()
        try:
            yield f"mongodb://127.0.0.1:{port}/?directConnection=true"
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
