"""Pytest fixtures for the fake upstream: one server for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.upstream import FakeUpstream, run_fake_upstream


@pytest.fixture(scope="session")
def fake_upstream() -> Iterator[FakeUpstream]:
    """The fake OpenAI / Azure / Anthropic server; tests tell requests apart by model name."""
    with run_fake_upstream() as fake:
        yield fake
