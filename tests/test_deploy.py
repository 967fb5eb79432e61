"""Every file under deploy/ checked with the real tools: docker-compose (config), promtool
(rules, config and alert unit tests), a Kubernetes schema validator (strict), KEDA's
ScaledObject shape, and the Grafana dashboard's queries against the metrics that exist."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from prometheus_client import REGISTRY

import gurulu.common.metrics  # noqa: F401  (registers the product's metrics)
from gurulu.common.settings import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: scripts/test installs it (apt-get)"
    return found


def run(*command: str, cwd: Path = DEPLOY, env: dict | None = None) -> str:
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_compose_file_is_valid_and_runs_every_service():
    env = {"GURULU_ADMIN_TOKEN": "a-real-secret-of-enough-length"}
    config = yaml.safe_load(
        run(tool("docker-compose"), "-f", "docker-compose.yml", "config", env=env)
    )
    services = config["services"]
    for name in (
        "clickhouse",
        "redis",
        "api",
        "ticker",
        "evaluator",
        "snapshotter",
        "prometheus",
        "grafana",
    ):
        assert name in services
    assert services["evaluator"]["deploy"]["replicas"] >= 2
    assert services["api"]["environment"]["GURULU_CLICKHOUSE_URL"].startswith("http://")


def test_the_compose_file_refuses_to_start_without_an_admin_token():
    done = subprocess.run(
        [tool("docker-compose"), "-f", "docker-compose.yml", "config"],
        cwd=DEPLOY, capture_output=True, text=True,
        env={k: v for k, v in os.environ.items() if k != "GURULU_ADMIN_TOKEN"},
    )  # fmt: skip
    assert done.returncode != 0 and "GURULU_ADMIN_TOKEN" in done.stderr


def test_prometheus_rules_config_and_alert_unit_tests_pass(tmp_path):
    promtool = tool("promtool")
    run(promtool, "check", "rules", "prometheus/alerts.yml")
    config = (DEPLOY / "prometheus/prometheus.yml").read_text()
    local = tmp_path / "prometheus.yml"
    local.write_text(
        config.replace("/etc/prometheus/alerts.yml", str(DEPLOY / "prometheus/alerts.yml"))
    )
    run(promtool, "check", "config", str(local))
    run(promtool, "test", "rules", "alerts_test.yml", cwd=DEPLOY / "prometheus")


def k8s_documents() -> list[tuple[Path, dict]]:
    return [
        (path, doc)
        for path in sorted((DEPLOY / "k8s").glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def test_kubernetes_manifests_validate_strictly():
    paths = sorted({str(p) for p, _ in k8s_documents()})
    out = run(str(BIN / "kubernetes-validate"), "--strict", "--quiet", *paths)
    assert "ERROR" not in out


def test_every_kubernetes_manifest_is_listed_in_the_kustomization():
    listed = yaml.safe_load((DEPLOY / "k8s/kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted({p.name for p, _ in k8s_documents()})


def test_deployments_have_probes_resources_and_disruption_budgets():
    docs = [d for _, d in k8s_documents()]
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    budgets = {d["metadata"]["name"] for d in docs if d["kind"] == "PodDisruptionBudget"}
    assert {"api", "ticker", "evaluator", "snapshotter"} <= set(deployments)
    assert {"api", "evaluator", "ticker"} <= budgets
    for name, deployment in deployments.items():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["resources"]["requests"] and container["resources"]["limits"], name
        assert container["args"][:2] == ["serve", name]


SCALED_OBJECT = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {"type": "object", "required": ["name"]},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "pollingInterval": {"type": "integer"},
                "cooldownPeriod": {"type": "integer"},
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "properties": {
                            "type": {"type": "string"},
                            "metadata": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    },
}


def test_evaluators_autoscale_on_the_refresh_backlog_with_keda():
    [scaled] = [d for _, d in k8s_documents() if d["kind"] == "ScaledObject"]
    jsonschema.validate(scaled, SCALED_OBJECT)
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "redis-streams"
    assert trigger["metadata"]["stream"] == "gurulu:audience:refresh"
    assert trigger["metadata"]["consumerGroup"] == "evaluator"
    assert scaled["spec"]["scaleTargetRef"]["name"] == "evaluator"


def test_the_placeholder_secret_is_refused_by_the_services():
    [secret] = [d for _, d in k8s_documents() if d["kind"] == "Secret"]
    with pytest.raises(ValueError):
        Settings(admin_token=secret["stringData"]["GURULU_ADMIN_TOKEN"])


def known_metrics() -> set[str]:
    names = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        for suffix in ("_bucket", "_count", "_sum", "_total", "_created"):
            names.add(family.name + suffix)
    return names | {"up"}


def expressions() -> list[tuple[str, str]]:
    dashboard = json.loads((DEPLOY / "grafana/dashboards/gurulu.json").read_text())
    found = [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text())
    found += [(r["alert"], r["expr"]) for g in rules["groups"] for r in g["rules"]]
    return found


@pytest.mark.parametrize("where,expr", expressions())
def test_dashboards_and_alerts_query_metrics_that_exist(where, expr):
    used = set(re.findall(r"\b(gurulu_[a-z_]+|up)\b", expr))
    assert used, where
    assert used <= known_metrics(), (where, used - known_metrics())


def test_grafana_is_provisioned_with_the_datasource_and_the_dashboard():
    datasource = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    uid = datasource["datasources"][0]["uid"]
    dashboard = json.loads((DEPLOY / "grafana/dashboards/gurulu.json").read_text())
    assert all(p["datasource"]["uid"] == uid for p in dashboard["panels"])
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for wanted in ("refresh lag", "backlog", "outcome", "joined", "api latency", "api errors"):
        assert wanted in titles
