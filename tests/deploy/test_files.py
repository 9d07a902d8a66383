"""deploy/: checked as far as this machine allows (no Docker engine runs here): the scrape
config by promtool, the compose file, provisioning and dashboard by structure, and every
file and port they refer to."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from core.config.loader import load_config
from core.metrics import RequestLabels, build_metrics
from facade.http_metrics import HttpMetrics
from tests.deploy.prometheus_server import tool

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _yaml(name: str) -> Any:
    return yaml.safe_load((DEPLOY / name).read_text())


def _exported_names() -> set[str]:
    """Every sample name the gateway can export (counters as `_total`, histogram series)."""
    registry = CollectorRegistry()
    build_metrics(registry, RequestLabels(user=True, metadata_keys=("customer_id",)))
    HttpMetrics.register(registry)
    names: set[str] = set()
    for family in registry.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(f"{family.name}{s}" for s in ("_bucket", "_sum", "_count"))
        else:
            names.add(family.name)
    return names


def test_promtool_accepts_the_scrape_config() -> None:
    checked = subprocess.run(
        [tool("promtool"), "check", "config", str(DEPLOY / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_scrape_config_with_its_token_lines_uncommented_is_valid(tmp_path: Path) -> None:
    token_file = tmp_path / "gateway-metrics-token"
    token_file.write_text("a-scrape-token\n")
    text = (DEPLOY / "prometheus.yml").read_text()
    commented = (
        "    # authorization:\n",
        "    #   credentials_file: /etc/prometheus/gateway-metrics-token\n",
    )
    assert all(line in text for line in commented)
    enabled = text.replace(commented[0], "    authorization:\n").replace(
        commented[1], f"      credentials_file: {token_file}\n"
    )
    config = tmp_path / "prometheus.yml"
    config.write_text(enabled)
    checked = subprocess.run(
        [tool("promtool"), "check", "config", str(config)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    job = yaml.safe_load(enabled)["scrape_configs"][0]
    assert job["authorization"] == {"credentials_file": str(token_file)}


def test_compose_wires_the_services_together() -> None:
    compose = _yaml("docker-compose.yml")
    services = compose["services"]
    assert set(services) == {"mongo", "gateway", "prometheus", "grafana"}
    gateway = services["gateway"]
    assert (DEPLOY / gateway["build"]["context"] / gateway["build"]["dockerfile"]).is_file()
    assert gateway["environment"]["GATEWAY_STORE_URI"].startswith("mongodb://mongo:")
    http_port = gateway["environment"]["GATEWAY_HTTP_PORT"]
    assert f"{http_port}:{http_port}" in gateway["ports"]
    scrape = _yaml("prometheus.yml")["scrape_configs"][0]["static_configs"][0]["targets"]
    assert scrape == [f"gateway:{http_port}"]
    assert "9090:9090" in services["prometheus"]["ports"]
    datasource = _yaml("grafana/provisioning/datasources/prometheus.yml")["datasources"][0]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    for service in services.values():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("."):  # a bind mount of one of our files
                assert (DEPLOY / source).exists(), volume
            if target == "/etc/llm-gateway/gateway.yaml":
                assert gateway["environment"]["GATEWAY_CONFIG"] == target
    dashboards = _yaml("grafana/provisioning/dashboards/llm-gateway.yml")["providers"][0]
    mounts = dict(v.split(":")[:2][::-1] for v in services["grafana"]["volumes"])
    assert (DEPLOY / mounts[dashboards["options"]["path"]] / "llm-gateway.json").is_file()


def test_the_compose_gateway_config_is_valid() -> None:
    config = load_config(DEPLOY / "gateway.yaml")
    assert config.metrics is not None
    assert config.metrics.prometheus.metadata_labels == ["customer_id"]


def test_the_dockerfile_copies_what_exists() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    root = DEPLOY.parent
    for source in re.findall(r"^COPY (\S+(?: \S+)*) \S+$", text, re.M):
        for name in source.split():
            assert (root / name).exists(), name
    assert 'CMD ["llm-gateway", "serve"]' in text


def test_every_dashboard_query_names_exported_metrics_and_defined_variables() -> None:
    dashboard = json.loads((DEPLOY / "grafana/dashboards/llm-gateway.json").read_text())
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert variables == {"datasource", "model", "metadata_key"}
    exported = _exported_names()
    assert dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
            expr = target["expr"]
            names = set(re.findall(r"\bllm_gateway_[a-z_]+", expr))
            assert names, expr
            assert names <= exported, (panel["title"], names - exported)
            used = set(re.findall(r"\$(\w+)", expr)) - {"__rate_interval", "__range"}
            assert used <= variables, (panel["title"], used)
