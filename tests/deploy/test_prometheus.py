"""A real Prometheus scrapes a running gateway while known traffic goes through it; then every
PromQL expression of the shipped Grafana dashboard is evaluated through Prometheus' HTTP API
and checked against that traffic (and against the gateway's own metrics API, which is exact).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deploy.prometheus_server import Prometheus, prometheus, tool
from tests.harness import RunningGateway, run_gateway
from tests.processes import gateway_process

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy/grafana/dashboards/llm-gateway.json"
CONFIG = """
name: mock-main
type: provider-account
provider: mock
models:
  - name: echo
    price: {input_per_million: 1000, output_per_million: 2000}
  - name: other
    price: {input_per_million: 500, output_per_million: 500}
mock:
  latency_ms: 20
---
name: metrics
type: gateway-metrics-config
metadata_keys: [customer_id]
prometheus:
  user_label: true
  metadata_labels: [customer_id]
"""
# Grafana's variables, as a dashboard with "All" models and the customer_id key selected
# would send them. The windows ($__rate_interval, $__range) are set per run to span exactly
# the measured traffic: from after phase A was scraped to the time of evaluation.
VARIABLES = {"$model": ".*", "$metadata_key": "metadata_customer_id"}
# Phase B, the measured traffic: (model, customer, stream, fails) -> how many calls.
TRAFFIC = {
    ("echo", "c1", False, False): 4,
    ("echo", "c1", True, False): 3,
    ("echo", "c2", False, False): 2,
    ("other", "c2", True, False): 2,
    ("echo", "c1", False, True): 3,
}
TOLERANCE = 0.15  # rate() and increase() extrapolate a little past the first and last samples


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    # Prometheus has no way to announce a scrape: ask it, briefly, until it is so.
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _scrapes(prom: Prometheus) -> int:
    found = prom.query("count_over_time(up[1h])", time.time())
    return int(float(found[0]["value"][1])) if found else 0


def _last_scrape(prom: Prometheus) -> float:
    """Seconds since the epoch of the newest scrape."""
    return float(prom.query("timestamp(up)", time.time())[0]["value"][1])


def _after_scrapes(prom: Prometheus, n: int) -> None:
    target = _scrapes(prom) + n
    _wait_for(lambda: _scrapes(prom) >= target, f"{n} scrapes")


def _call(http: httpx.Client, model: str, customer: str, stream: bool, fails: bool) -> None:
    body: dict[str, Any] = {
        "model": f"mock-main/{model}",
        "messages": [{"role": "user", "content": "one two three"}],
        "stream": stream,
    }
    if fails:
        body["mock"] = {"status": 503}
    response = http.post(
        "/v1/chat/completions",
        json=body,
        headers={"x-tfy-metadata": json.dumps({"customer_id": customer})},
    )
    assert response.status_code == (502 if fails else 200), response.text


@dataclass(frozen=True)
class Scraped:
    """Prometheus after the traffic, when to evaluate, over which window, and the gateway's
    own figures of the measured traffic (phase B)."""

    prometheus: Prometheus
    at: float
    window: float
    own: dict[str, Any]


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scraped]:
    with (
        run_gateway(CONFIG) as gateway,
        httpx.Client(
            base_url=gateway.http_url,
            headers={"authorization": f"Bearer {gateway.admin_key}"},
            timeout=10,
        ) as http,
    ):
        target = gateway.http_url.removeprefix("http://")
        with prometheus([target], tmp_path_factory.mktemp("prometheus")) as prom:
            _after_scrapes(prom, 2)
            # Phase A: one call of each kind, so that every series exists before phase B.
            for model, customer, stream, fails in TRAFFIC:
                _call(http, model, customer, stream, fails)
            _wait_for(lambda: _total(prom) == len(TRAFFIC), "phase A in Prometheus")
            _after_scrapes(prom, 3)
            # The window starts just before the last scrape of phase A's state: its first
            # sample holds none of phase B, whatever scrape is running when phase B begins.
            window_start = _last_scrape(prom) - 0.05
            started = int(time.time() * 1000)
            for (model, customer, stream, fails), count in TRAFFIC.items():
                for _ in range(count):
                    _call(http, model, customer, stream, fails)
            ended = int(time.time() * 1000) + 1
            everything = len(TRAFFIC) + sum(TRAFFIC.values())
            _wait_for(lambda: _total(prom) == everything, "phase B in Prometheus")
            _after_scrapes(prom, 10)
            at = time.time()
            own = _own_figures(gateway, http, started, ended)
            yield Scraped(prom, at, at - window_start, own)


def _total(prom: Prometheus) -> int:
    found = prom.query("sum(llm_gateway_requests_total)", time.time())
    return int(float(found[0]["value"][1])) if found else 0


def _own_figures(
    gateway: RunningGateway, http: httpx.Client, started: int, ended: int
) -> dict[str, Any]:
    """Phase B by the gateway's metrics API (exact), by model and by customer."""

    def query(group_by: list[str]) -> dict[Any, dict[str, Any]]:
        answer = http.post(
            "/api/svc/v1/llm-gateway/metrics/query",
            json={"start_time": started, "end_time": ended, "group_by": group_by},
        ).json()
        return {tuple(row[g] for g in group_by): row for row in answer["rows"]}

    return {"model": query(["model"]), "customer": query(["metadata.customer_id"])}


def _expressions() -> Iterator[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield panel["title"], target["expr"]


def _substituted(expr: str, window: float) -> str:
    window_ms = f"{int(window * 1000)}ms"
    variables = {**VARIABLES, "$__rate_interval": window_ms, "$__range": window_ms}
    for name, value in variables.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, expr
    return expr


def _close(found: float, expected: float) -> bool:
    return math.isclose(found, expected, rel_tol=TOLERANCE, abs_tol=1e-12)


def _by(result: list[dict[str, Any]], label: str) -> dict[str, float]:
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in result}


B_REQUESTS = sum(TRAFFIC.values())
B_ERRORS = sum(n for (_, _, _, fails), n in TRAFFIC.items() if fails)


def _check(title: str, expr: str, result: list[dict[str, Any]], scraped: Scraped) -> None:
    """What each panel's expression must show after phase B (rates: per second over the
    window, so times the window is the traffic)."""
    own, per_window = scraped.own, scraped.window
    by_model = {model[0].split("/")[1]: row for model, row in own["model"].items()}
    cost = sum(row["cost"] for row in by_model.values())
    if title.startswith("Requests per second"):
        found = _by(result, "model")
        for model, row in by_model.items():
            assert _close(found[f"mock-main/{model}"] * per_window, row["requests"]), (expr, found)
    elif title == "Tokens per second":
        name = "input_tokens" if "input" in expr else "output_tokens"
        assert _close(
            float(result[0]["value"][1]) * per_window, sum(r[name] for r in by_model.values())
        )
    elif title.startswith("Cost by model"):
        found = _by(result, "model")
        for model, row in by_model.items():
            assert _close(found[f"mock-main/{model}"], row["cost"]), (expr, found)
    elif title.startswith("Cost by user"):
        assert _close(_by(result, "user")["user:admin"], cost)
    elif title.startswith("Cost by $metadata_key"):
        found = _by(result, "metadata_customer_id")
        for (customer,), row in own["customer"].items():
            assert _close(found[customer], row["cost"]), (expr, found)
    elif title.startswith("Cost per hour"):
        found = _by(result, "model")
        for model, row in by_model.items():
            assert _close(found[f"mock-main/{model}"] / 3600 * per_window, row["cost"])
    elif title == "Error rate":
        assert _close(float(result[0]["value"][1]), B_ERRORS / B_REQUESTS)
    elif title.startswith("Errors per second"):
        assert _close(_by(result, "code")["upstream_error"] * per_window, B_ERRORS)
    elif title.startswith("Gateway overhead"):
        # The gateway's own time per call, in seconds: milliseconds observed as seconds would
        # all land above the last finite bucket (0.5) and the quantile would be 0.5. Not
        # tighter: one slow call on a loaded machine moves a p99 of so few calls.
        assert 0 < float(result[0]["value"][1]) < 0.5
    elif title.startswith(("Request latency", "Time to first token", "Upstream latency")):
        # The mock answers after 20 ms: at least the 10-25 ms bucket, and seconds, not ms.
        assert 0.01 <= float(result[0]["value"][1]) <= 1
    elif title.startswith("HTTP requests"):
        found = {(r["metric"]["route"], r["metric"]["status"]): r for r in result}
        ok = found["/v1/chat/completions", "200"]
        assert _close(float(ok["value"][1]) * per_window, B_REQUESTS - B_ERRORS)
        failed = found["/v1/chat/completions", "502"]
        assert _close(float(failed["value"][1]) * per_window, B_ERRORS)
    elif title.startswith("Log pipeline"):
        assert float(result[0]["value"][1]) >= 0
    elif title.startswith("Log records written"):
        if "written" in expr:
            assert _close(float(result[0]["value"][1]) * per_window, B_REQUESTS)
    else:  # pragma: no cover - a panel added without a check
        pytest.fail(f"no check for the panel {title!r}")


@pytest.mark.parametrize(("title", "expr"), list(_expressions()))
def test_every_dashboard_expression_shows_the_traffic(
    scraped: Scraped, title: str, expr: str
) -> None:
    result = scraped.prometheus.query(_substituted(expr, scraped.window), scraped.at)
    if "spilled" not in expr:  # nothing spilled: that series may rightly be absent
        assert result, f"{title}: {expr} returned nothing"
    _check(title, expr, result, scraped)


def test_the_metrics_pass_promtool() -> None:
    with run_gateway(CONFIG) as gateway:
        httpx.post(
            gateway.http_url + "/v1/chat/completions",
            headers={"authorization": f"Bearer {gateway.admin_key}"},
            json={"model": "mock-main/echo", "messages": [{"role": "user", "content": "hi"}]},
        )
        seen: list[str] = []

        def observed() -> bool:  # the call is counted once its log record is built
            seen.append(httpx.get(gateway.http_url + "/metrics").text)
            return "llm_gateway_request_duration_seconds_bucket{" in seen[-1]

        _wait_for(observed, "the call in /metrics")
    checked = subprocess.run(
        [tool("promtool"), "check", "metrics"], input=seen[-1], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _up(prom: Prometheus) -> str | None:
    """The last scrape's `up` (\"1\" or \"0\"), None before the first scrape."""
    found = prom.query("up", time.time())
    return str(found[0]["value"][1]) if found else None


def test_prometheus_scrapes_a_token_guarded_gateway_with_the_documented_config(
    tmp_path: Path,
) -> None:
    token = "scrape-token-7c0e41"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        GATEWAY_CONFIG=str(ROOT / "examples/gateway.yaml"),
        GATEWAY_DATA_DIR=str(tmp_path / "data"),
        GATEWAY_HTTP_PORT="0",
        GATEWAY_GRPC_PORT="0",
        GATEWAY_ADMIN_KEY="gw-admin-deploy-tests-0123456789",
        GATEWAY_METRICS_TOKEN=token,
    )
    (tmp_path / "with-token").mkdir()
    (tmp_path / "without-token").mkdir()
    with gateway_process("serve", env, tmp_path / "serve.stderr") as served:
        target = served.http_url.removeprefix("http://")
        with prometheus([target], tmp_path / "with-token", token=token) as prom:
            _wait_for(lambda: _up(prom) == "1", "a scrape that sends the token")
            samples = prom.query("scrape_samples_scraped", time.time())
            assert float(samples[0]["value"][1]) > 0
        with prometheus([target], tmp_path / "without-token") as prom:
            _wait_for(lambda: _up(prom) is not None, "a scrape without the token")
            assert _up(prom) == "0"
