"""The whole gateway in front of the fake provider: every family over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.upstream import FakeUpstream, closed_port_url
from tests.harness import RunningGateway, run_gateway

PROVIDER_KEY = "sk-provider-secret-123"

CHAT_MODELS = ["echo", "fail-400", "fail-401", "fail-503", "slow-3000", "drop", "cut-5"]


def gateway_config(fake: FakeUpstream, key_file: Path) -> str:
    models = "\n".join(f"  - {{name: {m}}}" for m in CHAT_MODELS)
    return f"""
name: oai
type: provider-account
provider: openai
base_url: {fake.base_url}/v1
api_key_file: {key_file}
timeout_seconds: 1
models:
{models}
  - {{name: emb, kind: embedding}}
---
name: azure
type: provider-account
provider: azure-openai
base_url: {fake.base_url}
api_key_file: {key_file}
api_version: 2024-10-21
models:
  - {{name: gpt-az, deployment: azure-echo}}
  - {{name: emb, kind: embedding, deployment: azure-emb}}
---
name: claude
type: provider-account
provider: anthropic
base_url: {fake.base_url}
api_key_file: {key_file}
timeout_seconds: 1
models:
{models}
---
# A long timeout, so only cancellation (not a read timeout) can close a held stream.
name: oai-hold
type: provider-account
provider: openai
base_url: {fake.base_url}/v1
api_key_file: {key_file}
timeout_seconds: 30
models: [{{name: hold-4}}, {{name: unary-hangup-slow-20000}}]
---
name: claude-hold
type: provider-account
provider: anthropic
base_url: {fake.base_url}
api_key_file: {key_file}
timeout_seconds: 30
models: [{{name: hold-4}}]
---
name: down
type: provider-account
provider: openai
base_url: {closed_port_url()}/v1
models: [{{name: echo}}]
"""


@pytest.fixture(scope="session")
def upstream_gateway(
    fake_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    key_file = tmp_path_factory.mktemp("secrets") / "provider.key"
    key_file.write_text(PROVIDER_KEY + "\n")
    with run_gateway(gateway_config(fake_upstream, key_file)) as running:
        yield running
