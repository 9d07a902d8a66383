"""The Messages API's own fields (Claude Code's `context_management`, `top_k`, ...) reach an
Anthropic account as sent, and never an OpenAI-compatible one, which would refuse them."""

from __future__ import annotations

import anthropic
import pytest

from tests.fakes.upstream import FakeUpstream
from tests.harness import RunningGateway

OWN_FIELDS = {"top_k": 7, "context_management": {"edits": []}, "service_tier": "auto"}


@pytest.mark.parametrize(("model", "expected"), [("oai/echo", {}), ("claude/echo", OWN_FIELDS)])
def test_own_fields_go_to_anthropic_accounts_only(
    upstream_gateway: RunningGateway,
    fake_upstream: FakeUpstream,
    model: str,
    expected: dict[str, object],
) -> None:
    marker = f"own fields via {model}"
    with anthropic.Anthropic(
        base_url=upstream_gateway.http_url, api_key=upstream_gateway.admin_key, max_retries=0
    ) as claude:
        message = claude.messages.create(
            model=model,
            max_tokens=32,
            messages=[{"role": "user", "content": marker}],
            extra_body=OWN_FIELDS,
        )
    assert message.content[0].type == "text"
    (sent,) = [r for r in fake_upstream.requests if marker in str(r.body)]
    assert {key: sent.body[key] for key in OWN_FIELDS if key in sent.body} == expected
