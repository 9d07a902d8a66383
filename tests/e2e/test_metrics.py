"""Calls through the whole gateway, then their figures through the metrics API."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import openai

from tests.fakes.upstream import FakeUpstream
from tests.harness import run_gateway

QUERY = "/api/svc/v1/llm-gateway/metrics/query"


def _config(fake: FakeUpstream) -> str:
    return f"""
name: oai
type: provider-account
provider: openai
base_url: {fake.base_url}/v1
models:
  - name: cumusage
    price: {{input_per_million: 1000000, output_per_million: 2000000}}
---
name: metrics
type: gateway-metrics-config
metadata_keys: [customer_id]
"""


def test_a_stream_repeating_cumulative_usage_counts_its_final_usage_once(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    started = time.time_ns() // 1_000_000
    with run_gateway(_config(fake_upstream), data_dir=tmp_path) as gateway:
        client = openai.OpenAI(base_url=gateway.openai_base_url, api_key=gateway.admin_key)
        chunks = list(
            client.chat.completions.create(
                model="oai/cumusage",
                messages=[{"role": "user", "content": "one two three four"}],
                stream=True,
                extra_headers={"x-tfy-metadata": '{"customer_id": "acme"}'},
            )
        )
        # The provider sent usage in every chunk, each time the total so far.
        assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) == 5
    # Stopping drained the log pipeline; a gateway over the same data answers.
    with run_gateway(_config(fake_upstream), data_dir=tmp_path) as gateway:
        answer = httpx.post(
            gateway.http_url + QUERY,
            headers={"authorization": f"Bearer {gateway.admin_key}"},
            json={"start_time": started, "group_by": ["metadata.customer_id"]},
        ).json()
    (row,) = answer["rows"]
    assert row["metadata.customer_id"] == "acme"
    # "echo: one two three four" streams 5 pieces: 5 output tokens, not 1+2+3+4+5.
    assert (row["requests"], row["output_tokens"]) == (1, 5)
    assert row["input_tokens"] == answer["totals"]["input_tokens"] > 0
    assert row["cost"] == row["input_tokens"] * 1.0 + 5 * 2.0
    assert row["ttft_ms"] is not None
    assert row["gateway_overhead_ms"]["p50"] > 0
