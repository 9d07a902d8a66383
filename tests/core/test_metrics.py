"""core/metrics.py: request counters and duration histograms, with bounded label values."""

from __future__ import annotations

from dataclasses import replace

from prometheus_client import CollectorRegistry, generate_latest

from core.metrics import RequestLabels, build_metrics
from tests.contract.records import make_log

CALL = make_log(
    "p1",
    resolved_model="openai-main/gpt-4o",
    latency_ms=250.0,
    upstream_ms=249.2,
    ttft_ms=80.0,
    input_tokens=7,
    output_tokens=11,
    cost=0.25,
    metadata={"environment": "prod", "customer_id": "42"},
)


def _series(registry: CollectorRegistry, name: str) -> list[dict[str, str]]:
    return [
        sample.labels
        for family in registry.collect()
        for sample in family.samples
        if sample.name == name
    ]


def test_a_call_is_counted_and_timed() -> None:
    registry = CollectorRegistry()
    metrics = build_metrics(registry)
    metrics.requests.observe(CALL)
    labels = {"model": "openai-main/gpt-4o", "provider": "openai-main", "status": "success"}
    value = registry.get_sample_value
    assert value("llm_gateway_requests_total", labels) == 1
    assert value("llm_gateway_input_tokens_total", labels) == 7
    assert value("llm_gateway_output_tokens_total", labels) == 11
    assert value("llm_gateway_cost_dollars_total", labels) == 0.25
    assert value("llm_gateway_request_duration_seconds_sum", labels) == 0.25
    route = {"model": "openai-main/gpt-4o", "provider": "openai-main"}
    assert value("llm_gateway_upstream_duration_seconds_count", route) == 1
    overhead = value("llm_gateway_gateway_overhead_seconds_sum", route)
    assert overhead is not None
    assert abs(overhead - 0.0008) < 1e-9
    # 0.8 ms falls in the 1 ms bucket, not in the 0.5 ms one.
    assert value("llm_gateway_gateway_overhead_seconds_bucket", {**route, "le": "0.001"}) == 1
    assert value("llm_gateway_gateway_overhead_seconds_bucket", {**route, "le": "0.0005"}) == 0
    assert value("llm_gateway_time_to_first_token_seconds_sum", route) == 0.08


def test_a_call_that_reached_no_provider_has_no_upstream_time() -> None:
    registry = CollectorRegistry()
    metrics = build_metrics(registry)
    metrics.requests.observe(
        replace(
            CALL,
            resolved_model="",
            provider_account="",
            upstream_ms=None,
            status="error",
            error_code="rate_limited",
        )
    )
    labels = {"model": "none", "provider": "none", "status": "error"}
    assert registry.get_sample_value("llm_gateway_requests_total", labels) == 1
    errors = {"model": "none", "provider": "none", "code": "rate_limited"}
    assert registry.get_sample_value("llm_gateway_request_errors_total", errors) == 1
    assert _series(registry, "llm_gateway_upstream_duration_seconds_count") == []


def test_opt_in_labels_for_the_caller_and_metadata_keys() -> None:
    registry = CollectorRegistry()
    metrics = build_metrics(registry, RequestLabels(user=True, metadata_keys=("environment",)))
    metrics.requests.observe(CALL)
    metrics.requests.observe(replace(CALL, metadata={}))
    (first, second) = _series(registry, "llm_gateway_requests_total")
    assert first["user"] == "user:alice@example.com"
    assert first["metadata_environment"] == "prod"
    assert second["metadata_environment"] == "none"
    assert "metadata_customer_id" not in first  # not listed: never a label


def test_a_thousand_bogus_users_and_models_do_not_make_a_thousand_series() -> None:
    registry = CollectorRegistry()
    metrics = build_metrics(
        registry, RequestLabels(user=True, metadata_keys=("environment",), max_values=10)
    )
    for i in range(1000):
        metrics.requests.observe(
            replace(
                CALL,
                subject=f"user:bogus{i}@example.com",
                resolved_model=f"bogus/model-{i}",
                provider_account=f"bogus{i}",
                metadata={"environment": f"env-{i}"},
            )
        )
    series = _series(registry, "llm_gateway_requests_total")
    assert len(series) == 11  # the first ten of each label, then one `other` series
    assert series[-1] == {
        "model": "other",
        "provider": "other",
        "status": "success",
        "user": "other",
        "metadata_environment": "other",
    }
    text = generate_latest(registry).decode()
    assert text.count("llm_gateway_request_duration_seconds_count{") == 11
