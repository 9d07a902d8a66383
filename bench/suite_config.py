"""The gateway YAML the benchmark suite runs with: one upstream account and 20 routing rules.

The benchmark asks for `smart`, a virtual model: a load-balancing rule sends it to
`local/bench`; 5 of the 10 rate limits (per user, per model, per metadata key; requests and
tokens) are charged and settled on every call; a fallback rule matches but is never needed.
The other rules name other models, as a real config's would. Metrics roll up by a metadata
key and Prometheus labels by user, so every feature that runs per request runs.
"""

from __future__ import annotations

MODEL = "smart"
DIRECT_MODEL = "bench"
METADATA = '{"team": "bench", "application": "suite"}'


def gateway_yaml(upstream_port: int, *, rules: bool = True) -> str:
    accounts = f"""
name: local
type: provider-account
provider: openai
base_url: http://127.0.0.1:{upstream_port}/v1
models:
  - {{name: bench, price: {{input_per_million: 1, output_per_million: 2}}}}
  - {{name: spare}}
---
name: metrics
type: gateway-metrics-config
metadata_keys: [team, application]
prometheus: {{user_label: true, metadata_labels: [team]}}
"""
    if not rules:
        return accounts
    return accounts + _rules()


def _rules() -> str:
    units = ("requests_per_minute", "tokens_per_minute", "requests_per_day")
    per = ("[user]", "[model]", "['metadata.team']", "[user, model]", "[]")
    limits = [
        f"  - {{id: limit-{i}, when: {{models: [{MODEL if i < 5 else 'local/spare'}]}}, "
        f"limit_to: 1000000000, unit: {units[i % 3]}, rate_limit_applies_per: {per[i % 5]}}}"
        for i in range(10)
    ]
    balancing = [
        f"""  - id: lb-{i}
    type: weight-based-routing
    when: {{models: [{MODEL if i == 0 else f"virtual-{i}"}]}}
    load_balance_targets: [{{target: local/bench, weight: 100}}]"""
        for i in range(5)
    ]
    fallbacks = [
        f"  - {{id: fb-{i}, when: {{models: [{MODEL if i == 0 else f'virtual-{i}'}]}}, "
        f"fallback_models: [{{target: local/spare}}]}}"
        for i in range(5)
    ]
    sections = (
        ("gateway-rate-limiting-config", limits),
        ("gateway-load-balancing-config", balancing),
        ("gateway-fallback-config", fallbacks),
    )
    return "".join(
        f"---\nname: {kind}\ntype: {kind}\nrules:\n" + "\n".join(body) + "\n"
        for kind, body in sections
    )
