from __future__ import annotations

from pathlib import Path

import pytest

from core.config.loader import ConfigError, load_config, parse_config
from core.config.policies import (
    BudgetRule,
    FailureTolerance,
    FallbackRule,
    LoadBalanceRule,
    Policies,
    RateLimitRule,
    RetryConfig,
    When,
)

ACCOUNTS = """
name: openai-main
type: provider-account
provider: openai
models: [{name: gpt4}, {name: gpt4-mini}, {name: ada, kind: embedding}]
---
name: mock-main
type: provider-account
provider: mock
models: [{name: echo}, {name: embed, kind: embedding}]
"""

SEED = """
name: ratelimiting-config
type: gateway-rate-limiting-config
rules:
  - id: 'openai-gpt4-dev-env'
    when:
      models: ['openai-main/gpt4']
      metadata:
        env: dev
    limit_to: 1000
    unit: requests_per_day
"""

BUDGET = """
name: budgets
type: gateway-budget-config
rules:
  - id: team-spend
    when: {subjects: ['team:ml'], models: [smart]}
    limit_to: 12.5
    unit: cost_per_month
    budget_applies_per: [user, metadata.customer_id]
    audit_mode: true
"""

LB = """
name: lb
type: gateway-load-balancing-config
rules:
  - id: smart-split
    type: weight-based-routing
    when: {models: [smart]}
    load_balance_targets:
      - target: openai-main/gpt4
        weight: 70
        retry_config: {attempts: 3, delay: 250, on_status_codes: ['429', 503]}
        fallback_status_codes: ['429']
        override_params: {temperature: 0.2}
        failure_tolerance: {allowed_failures_per_minute: 3, cooldown_period_minutes: 5}
      - target: mock-main/echo
        weight: 30
  - id: embed-latency
    type: latency-based-routing
    when: {models: [fast-embed]}
    load_balance_targets:
      - target: openai-main/ada
      - target: mock-main/embed
"""

FALLBACK = """
name: fallbacks
type: gateway-fallback-config
rules:
  - id: gpt4-down
    when:
      models: [openai-main/gpt4, smart]
      subjects: ['user:a@example.com', 'virtualaccount:ci']
      response_status_codes: ['429', 500]
    fallback_models:
      - target: openai-main/gpt4-mini
      - target: mock-main/echo
        override_params: {max_tokens: 100}
"""


def config_of(*documents: str) -> str:
    return "---\n".join((ACCOUNTS, *documents))


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_config(text, source="gw.yaml")
    return str(raised.value)


def test_seed_rate_limit_loads() -> None:
    config = parse_config(config_of(SEED))
    assert config.policies.rate_limits == (
        RateLimitRule(
            id="openai-gpt4-dev-env",
            when=When(models=["openai-main/gpt4"], metadata={"env": "dev"}),
            limit_to=1000,
            unit="requests_per_day",
        ),
    )
    assert config.policies.rate_limits[0].rate_limit_applies_per == []


def test_all_four_types_load_into_policies() -> None:
    policies = parse_config(config_of(SEED, BUDGET, LB, FALLBACK)).policies
    assert [r.id for r in policies.rate_limits] == ["openai-gpt4-dev-env"]
    assert policies.virtual_models == frozenset({"smart", "fast-embed"})

    (budget,) = policies.budgets
    assert isinstance(budget, BudgetRule)
    assert budget.limit_to == 12.5
    assert budget.budget_applies_per == ["user", "metadata.customer_id"]
    assert budget.audit_mode is True

    split, latency = policies.load_balancing
    assert isinstance(split, LoadBalanceRule)
    first, second = split.load_balance_targets
    assert (first.target, first.weight, second.weight) == ("openai-main/gpt4", 70, 30)
    assert first.retry_config == RetryConfig(attempts=3, delay=250, on_status_codes=[429, 503])
    assert first.fallback_status_codes == [429]
    assert first.override_params == {"temperature": 0.2}
    assert first.failure_tolerance == FailureTolerance(
        allowed_failures_per_minute=3, cooldown_period_minutes=5
    )
    assert second.retry_config == RetryConfig(
        attempts=2, delay=100, on_status_codes=[429, 500, 502, 503]
    )
    assert second.fallback_status_codes == [401, 403, 404, 429, 500, 502, 503]
    assert second.fallback_candidate is True
    assert second.failure_tolerance is None
    assert latency.type == "latency-based-routing"

    (fallback,) = policies.fallbacks
    assert isinstance(fallback, FallbackRule)
    assert fallback.when.response_status_codes == [429, 500]
    assert [t.target for t in fallback.fallback_models] == [
        "openai-main/gpt4-mini",
        "mock-main/echo",
    ]


def test_no_policy_documents_is_empty_policies() -> None:
    assert parse_config(ACCOUNTS).policies == Policies()


def test_rules_of_several_documents_are_concatenated_in_file_order() -> None:
    second = SEED.replace("ratelimiting-config", "more").replace("openai-gpt4-dev-env", "second")
    text = config_of(SEED, LB, second)
    assert [r.id for r in parse_config(text).policies.rate_limits] == [
        "openai-gpt4-dev-env",
        "second",
    ]


def test_priority_routing_and_single_applies_per() -> None:
    text = config_of(
        LB.replace("weight-based-routing", "priority-based-routing")
        .replace("weight: 70", "priority: 0")
        .replace("weight: 30", "priority: 1"),
        SEED.replace("    unit:", "    rate_limit_applies_per: metadata.env\n    unit:"),
    )
    policies = parse_config(text).policies
    assert [t.priority for t in policies.load_balancing[0].load_balance_targets] == [0, 1]
    assert policies.rate_limits[0].rate_limit_applies_per == ["metadata.env"]


# Document numbers: the two accounts are documents 1 and 2, so a policy is document 3.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            config_of(SEED.replace("requests_per_day", "requests_per_week")),
            "gw.yaml: document 3 (name=ratelimiting-config): rules[0].unit: Input should be "
            "'requests_per_minute'",
            id="unknown-unit",
        ),
        pytest.param(
            config_of(BUDGET.replace("cost_per_month", "cost_per_year")),
            "document 3 (name=budgets): rules[0].unit: Input should be 'cost_per_day', "
            "'cost_per_week' or 'cost_per_month'",
            id="unknown-budget-unit",
        ),
        pytest.param(
            config_of(SEED.replace("limit_to: 1000", "limit_to: -1")),
            "document 3 (name=ratelimiting-config): rules[0].limit_to: Input should be greater "
            "than or equal to 0",
            id="negative-limit",
        ),
        pytest.param(
            config_of(BUDGET.replace("limit_to: 12.5", "limit_to: -0.5")),
            "document 3 (name=budgets): rules[0].limit_to: Input should be greater than or "
            "equal to 0",
            id="negative-budget",
        ),
        pytest.param(
            config_of(BUDGET.replace("[user, metadata.customer_id]", "[user, team]")),
            "document 3 (name=budgets): rules[0].budget_applies_per[1]: 'team' is not one of "
            "`user`, `virtualaccount`, `model`, `metadata.<key>`",
            id="bad-applies-per",
        ),
        pytest.param(
            config_of(BUDGET.replace("[user, metadata.customer_id]", "[model, 'metadata.']")),
            "rules[0].budget_applies_per[1]: metadata key '' must be 1 to 128 printable",
            id="empty-metadata-key-in-applies-per",
        ),
        pytest.param(
            config_of(
                SEED.replace("    unit:", "    rate_limit_applies_per: [model, model]\n    unit:")
            ),
            "document 3 (name=ratelimiting-config): rules[0].rate_limit_applies_per[1]: 'model' "
            "appears twice",
            id="duplicate-applies-per",
        ),
        pytest.param(
            config_of(LB.replace("weight: 30", "weight: 20")),
            "document 3 (name=lb): rules[0].load_balance_targets: weights sum to 90: "
            "weight-based routing needs them to sum to 100",
            id="weights-not-100",
        ),
        pytest.param(
            config_of(LB.replace("        weight: 30\n", "")),
            "document 3 (name=lb): rules[0].load_balance_targets[1].weight: "
            "weight-based-routing needs a weight on every target",
            id="missing-weight",
        ),
        pytest.param(
            config_of(LB.replace("weight: 30", "weight: 30\n        priority: 1")),
            "document 3 (name=lb): rules[0].load_balance_targets[1].priority: "
            "weight-based-routing takes no priority (it uses weight)",
            id="priority-on-weight-rule",
        ),
        pytest.param(
            config_of(
                LB.replace("weight-based-routing", "priority-based-routing").replace(
                    "weight: 70", "priority: 0"
                )
            ),
            "document 3 (name=lb): rules[0].load_balance_targets[1].priority: "
            "priority-based-routing needs a priority on every target",
            id="missing-priority",
        ),
        pytest.param(
            config_of(
                LB.replace("weight-based-routing", "priority-based-routing")
                .replace("weight: 70", "priority: 0")
                .replace("weight: 30", "priority: 1\n        weight: 30")
            ),
            "rules[0].load_balance_targets[1].weight: priority-based-routing takes no weight",
            id="weight-on-priority-rule",
        ),
        pytest.param(
            config_of(LB.replace("target: mock-main/echo", "target: x/y")),
            "gw.yaml: document 3 (name=lb): rules[0].load_balance_targets[1].target: unknown "
            "model 'x/y': use an account/model id from a provider-account document",
            id="unknown-lb-target",
        ),
        pytest.param(
            config_of(FALLBACK.replace("target: mock-main/echo", "target: smart")),
            "document 3 (name=fallbacks): rules[0].fallback_models[1].target: unknown model "
            "'smart': use an account/model id",
            id="unknown-fallback-target",
        ),
        pytest.param(
            config_of(LB.replace("target: mock-main/embed", "target: mock-main/echo")),
            "document 3 (name=lb): rules[1].load_balance_targets[1].target: 'mock-main/echo' is "
            "a chat model but 'openai-main/ada' is an embedding model: the targets of one rule "
            "are of one kind",
            id="mixed-target-kinds",
        ),
        pytest.param(
            config_of(SEED.replace("'openai-main/gpt4'", "'openai-main/gpt5'")),
            "document 3 (name=ratelimiting-config): rules[0].when.models[0]: unknown model "
            "'openai-main/gpt5': use an account/model id from a provider-account document or a "
            "virtual model named in a load-balancing rule's when.models",
            id="unknown-model-in-when",
        ),
        pytest.param(
            config_of(BUDGET),
            "document 3 (name=budgets): rules[0].when.models[0]: unknown model 'smart'",
            id="virtual-model-without-lb-rule",
        ),
        pytest.param(
            config_of(LB.replace("[smart]", "['my model']")),
            "document 3 (name=lb): rules[0].when.models[0]: model name 'my model' must be "
            "non-empty, without whitespace",
            id="virtual-model-with-whitespace",
        ),
        pytest.param(
            config_of(LB, FALLBACK.replace("[openai-main/gpt4, smart]", "[fast-embed]")),
            "document 4 (name=fallbacks): rules[0].when.models[0]: 'fast-embed' is an embedding "
            "model but this rule's targets are chat models",
            id="when-model-of-other-kind",
        ),
        pytest.param(
            config_of(LB.replace("[fast-embed]", "[smart]")),
            "document 3 (name=lb): rules[1].when.models[0]: virtual model 'smart' leads to "
            "embedding models here but to chat models in rule 'smart-split'",
            id="virtual-model-of-two-kinds",
        ),
        pytest.param(
            config_of(SEED.replace("env: dev", "env: 5")),
            "document 3 (name=ratelimiting-config): rules[0].when.metadata.env: metadata values "
            "are strings: quote it (env: '5')",
            id="non-string-metadata-value",
        ),
        pytest.param(
            config_of(SEED.replace("env: dev", "beta: true")),
            "rules[0].when.metadata.beta: metadata values are strings: quote it (beta: 'true')",
            id="bool-metadata-value",
        ),
        pytest.param(
            config_of(SEED.replace("env: dev", f"{'k' * 129}: dev")),
            f"rules[0].when.metadata.{'k' * 129}: metadata key",
            id="long-metadata-key",
        ),
        pytest.param(
            config_of(BUDGET.replace("'team:ml'", "'group:ml'")),
            "document 3 (name=budgets): rules[0].when.subjects[0]: subject 'group:ml' must be "
            "`user:<email>`, `team:<name>` or `virtualaccount:<name>`",
            id="bad-subject",
        ),
        pytest.param(
            config_of(SEED, SEED.replace("ratelimiting-config", "other")),
            "document 4 (name=other): rules[0].id: duplicate rule id 'openai-gpt4-dev-env': ids "
            "are unique across gateway-rate-limiting-config documents (first in document 3)",
            id="duplicate-rule-id",
        ),
        pytest.param(
            config_of(LB.replace("id: embed-latency", "id: smart-split")),
            "document 3 (name=lb): rules[1].id: duplicate rule id 'smart-split'",
            id="duplicate-rule-id-in-one-document",
        ),
        pytest.param(
            config_of(SEED.replace("id: 'openai-gpt4-dev-env'", "id: ''")),
            "rules[0].id: must not be empty",
            id="empty-rule-id",
        ),
        pytest.param(
            config_of(LB, FALLBACK.replace("['429', 500]", "['429', 600]")),
            "document 4 (name=fallbacks): rules[0].when.response_status_codes[1]: status code "
            "600 must be an integer from 100 to 599",
            id="bad-status-code",
        ),
        pytest.param(
            config_of(LB.replace("on_status_codes: ['429', 503]", "on_status_codes: ['4x9']")),
            "rules[0].load_balance_targets[0].retry_config.on_status_codes[0]: status code "
            "'4x9' must be an integer from 100 to 599",
            id="status-code-not-digits",
        ),
        pytest.param(
            config_of(LB.replace("{temperature: 0.2}", "{model: gpt-5}")),
            "document 3 (name=lb): rules[0].load_balance_targets[0].override_params.model: "
            "override_params may not set `model`",
            id="override-params-model",
        ),
        pytest.param(
            config_of(LB, FALLBACK.replace("{max_tokens: 100}", "{messages: []}")),
            "document 4 (name=fallbacks): rules[0].fallback_models[1].override_params.messages: "
            "override_params may not set `messages`",
            id="fallback-override-params-messages",
        ),
        pytest.param(
            config_of(
                "name: lb\ntype: gateway-load-balancing-config\nrules:\n"
                "  - {id: r, type: latency-based-routing, when: {}, load_balance_targets: []}\n"
            ),
            "document 3 (name=lb): rules[0].load_balance_targets: List should have at least 1 item",
            id="empty-targets",
        ),
        pytest.param(
            config_of(
                LB,
                "name: fallbacks\ntype: gateway-fallback-config\nrules:\n"
                "  - {id: r, when: {}, fallback_models: []}\n",
            ),
            "document 4 (name=fallbacks): rules[0].fallback_models: List should have at least 1 item",
            id="empty-fallback-models",
        ),
        pytest.param(
            config_of(LB.replace("target: mock-main/embed", "target: openai-main/ada")),
            "document 3 (name=lb): rules[1].load_balance_targets[1].target: target "
            "'openai-main/ada' appears twice in this rule",
            id="duplicate-target",
        ),
        pytest.param(
            config_of(LB.replace("weight: 70", "weight: 170")),
            "rules[0].load_balance_targets[0].weight: Input should be less than or equal to 100",
            id="weight-over-100",
        ),
        pytest.param(
            config_of(LB.replace("attempts: 3", "attempts: 0")),
            "rules[0].load_balance_targets[0].retry_config.attempts: Input should be greater "
            "than or equal to 1",
            id="zero-attempts",
        ),
        pytest.param(
            config_of(LB.replace("cooldown_period_minutes: 5", "cooldown_period_minutes: 0")),
            "rules[0].load_balance_targets[0].failure_tolerance.cooldown_period_minutes: Input "
            "should be greater than 0",
            id="zero-cooldown",
        ),
        pytest.param(
            config_of(LB.replace("    when: {models: [smart]}\n", "")),
            "document 3 (name=lb): rules[0].when: Field required",
            id="lb-rule-without-when",
        ),
        pytest.param(
            config_of(SEED.replace("limit_to: 1000", "limit_to: 1000\n    burst: 5")),
            "rules[0].burst: Extra inputs are not permitted",
            id="unknown-field",
        ),
    ],
)
def test_malformed_policy_names_document_field_and_reason(text: str, expected: str) -> None:
    assert expected in error_of(text)


def test_sample_policy_examples_load_when_uncommented() -> None:
    lines = Path("examples/gateway.yaml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# Routing policies"))
    end = lines.index("# (end of routing policies)")
    start = next(i for i in range(start, end) if lines[i].startswith("# # "))
    # Uncommenting removes one `# ` level, as an editor's toggle does.
    block = [line.removeprefix("# ") for line in lines[start:end]]
    text = "\n".join([*lines[:start], *block, *lines[end + 1 :]])
    policies = parse_config(text).policies
    assert [r.id for r in policies.load_balancing] == ["mock-smart-split"]
    assert [r.id for r in policies.fallbacks] == ["echo-to-slow"]
    assert [r.id for r in policies.rate_limits] == ["mock-smart-per-user", "dev-env-tokens"]
    assert [r.id for r in policies.budgets] == ["research-daily"]
    assert policies.virtual_models == frozenset({"mock-smart"})


def test_sample_has_no_active_policies() -> None:
    # The default gateway keeps its behaviour: the examples above stay commented.
    assert load_config(Path("examples/gateway.yaml")).policies == Policies()
