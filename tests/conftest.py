"""Shared fixtures: real servers on ephemeral ports, never mocked stubs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.fixtures import fake_upstream  # noqa: F401
from tests.harness import RunningGateway, run_gateway
from tests.mongo_server import mongo_server

MOCK_CONFIG = """
name: mock-main
type: provider-account
provider: mock
timeout_seconds: 0.2
models:
  - name: echo
    price: {input_per_million: 1.0, output_per_million: 2.0}
  - name: embed
    kind: embedding
"""


@pytest.fixture(scope="session")
def gateway() -> Iterator[RunningGateway]:
    """The whole gateway (core + facade) on ephemeral ports, serving the mock provider."""
    with run_gateway(MOCK_CONFIG) as running:
        yield running


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MongoDB wire-protocol server for the session (see tests/mongo_server.py)."""
    with mongo_server(tmp_path_factory.mktemp("mongo-data")) as uri:
        yield uri
