"""Runs the whole gateway (core + facade, as `serve` composes them) in a thread, ephemeral ports."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from core.config.loader import parse_config
from core.config.settings import Settings
from gateway_cli.runner import Endpoints, serve
from tests.transport import TRANSPORT

ADMIN_KEY = "test-admin-key"


@dataclass(frozen=True)
class RunningGateway:
    """Addresses of a gateway started by `run_gateway`."""

    http_url: str
    grpc_target: str
    admin_key: str

    @property
    def openai_base_url(self) -> str:
        return f"{self.http_url}/api/inference/openai"


@contextmanager
def run_gateway(
    config_yaml: str,
    *,
    admin_key: str = ADMIN_KEY,
    max_body_bytes: int | None = None,
    grpc_max_message_bytes: int | None = None,
    facade_transport: str = TRANSPORT,
    data_dir: Path | None = None,
) -> Iterator[RunningGateway]:
    """Starts core and facade on their own loop; stops them (gracefully) on exit.

    The store lives in `data_dir` (a fresh temporary directory when None); the facade reaches
    core over this run's transport unless `facade_transport` names one.
    """
    config = parse_config(config_yaml, source="<test config>")
    with TemporaryDirectory() as temporary:
        overrides = {} if max_body_bytes is None else {"max_body_bytes": max_body_bytes}
        if grpc_max_message_bytes is not None:
            overrides["grpc_max_message_bytes"] = grpc_max_message_bytes
        settings = Settings(
            config=Path("unused.yaml"),
            data_dir=data_dir or Path(temporary),
            admin_key=admin_key,
            http_port=0,
            grpc_port=0,
            shutdown_grace_seconds=2,
            facade_transport=facade_transport,
            **overrides,
        )
        ready = threading.Event()
        endpoints: list[Endpoints] = []
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()
        stop: list[asyncio.Event] = []

        async def main() -> None:
            stop.append(asyncio.Event())

            def on_ready(found: Endpoints) -> None:
                endpoints.append(found)
                ready.set()

            await serve(settings, config, on_ready=on_ready, stop=stop[0])

        def run() -> None:
            try:
                loop.run_until_complete(main())
            except BaseException as exc:  # surfaced to the test below
                failure.append(exc)
            finally:
                ready.set()
                loop.close()

        thread = threading.Thread(target=run, name="gateway", daemon=True)
        thread.start()
        ready.wait(timeout=30)
        if failure or not endpoints:
            thread.join(timeout=10)
            raise RuntimeError(f"gateway did not start: {failure!r}")
        found = endpoints[0]
        assert found.http_url
        assert found.grpc_target
        try:
            yield RunningGateway(found.http_url, found.grpc_target, admin_key)
        finally:
            loop.call_soon_threadsafe(stop[0].set)
            thread.join(timeout=30)
