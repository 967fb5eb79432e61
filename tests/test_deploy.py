"""Every file under deploy/ checked with the real tools: docker-compose (config), promtool
(rules, config and alert unit tests), Prometheus relabelling the Kubernetes pods into the
alerts' jobs, a Kubernetes schema validator (strict), KEDA's ScaledObject shape, and the
Grafana dashboard's and alerts' queries against the metrics (and their labels) that
exist."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest
import yaml
from cryptography.fernet import Fernet
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

from gurulu.common import metrics
from gurulu.common.settings import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
BIN = Path(sys.executable).parent
SERVICES = ("api", "ticker", "evaluator", "snapshotter", "destinations")
# The services that encrypt (api) or decrypt (destinations) destination credentials.
KEY_HOLDERS = ("api", "destinations")
SECRETS = {
    "GURULU_ADMIN_TOKEN": "a-real-secret-of-enough-length",
    "GURULU_ENCRYPTION_KEY": Fernet.generate_key().decode(),
}


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


def compose_services() -> dict[str, dict]:
    config = run(tool("docker-compose"), "-f", "docker-compose.yml", "config", env=SECRETS)
    return yaml.safe_load(config)["services"]


def test_the_compose_file_is_valid_and_runs_every_service():
    services = compose_services()
    for name in ("clickhouse", "redis", *SERVICES, "prometheus", "grafana"):
        assert name in services
    for name in SERVICES:
        assert services[name]["image"] == services["api"]["image"], name
        assert services[name]["command"][:2] == ["serve", name]
    assert services["evaluator"]["deploy"]["replicas"] >= 2
    assert services["destinations"]["deploy"]["replicas"] >= 2
    assert services["api"]["environment"]["GURULU_CLICKHOUSE_URL"].startswith("http://")


def test_the_compose_services_report_ready_on_their_http_or_metrics_port():
    services = compose_services()
    assert "127.0.0.1:8080/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert "127.0.0.1:9464/readyz" in " ".join(services["destinations"]["healthcheck"]["test"])


def test_the_api_and_destinations_share_the_encryption_key_and_only_they_get_it():
    services = compose_services()
    for name in SERVICES:
        key = services[name]["environment"].get("GURULU_ENCRYPTION_KEY")
        assert key == (SECRETS["GURULU_ENCRYPTION_KEY"] if name in KEY_HOLDERS else None), name
        assert services[name]["environment"]["GURULU_ADMIN_TOKEN"], name


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_the_compose_file_refuses_to_start_without_each_secret(secret):
    env = {k: v for k, v in (os.environ | SECRETS).items() if k != secret}
    done = subprocess.run(
        [tool("docker-compose"), "-f", "docker-compose.yml", "config"],
        cwd=DEPLOY, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode != 0 and secret in done.stderr


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


def test_prometheus_scrapes_every_service_and_alerts_name_its_jobs():
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name in SERVICES:
        [target] = jobs[f"gurulu-{name}"]["dns_sd_configs"]
        assert target["names"] == [name]
        assert target["port"] == (8080 if name == "api" else 9464)
    named = {job for _, expr in expressions() for job in re.findall(r'job="([^"]+)"', expr)}
    assert named and named <= set(jobs)


def kubernetes_scrape() -> dict:
    return yaml.safe_load((DEPLOY / "prometheus/kubernetes.yml").read_text())


def test_prometheus_in_kubernetes_discovers_the_pods_of_the_manifests_namespace():
    [job] = kubernetes_scrape()["scrape_configs"]
    namespaces = {
        d["metadata"]["namespace"] for _, d in k8s_documents() if d["kind"] != "Namespace"
    }
    assert job["kubernetes_sd_configs"] == [
        {"role": "pod", "namespaces": {"names": sorted(namespaces)}}
    ]


def pod_targets() -> list[dict]:
    """What Kubernetes pod discovery reports of the manifests' pods (one target per
    container port, its labels and annotations as `__meta_kubernetes_pod_*`), and of a
    pod of another application in the namespace."""

    def name(key: str) -> str:
        return re.sub(r"[^a-zA-Z0-9_]", "_", key)

    pods = [
        (d["metadata"]["name"], d["metadata"]["namespace"], d["spec"]["template"])
        for _, d in k8s_documents()
        if d["kind"] == "Deployment"
    ]
    redis = {"name": "redis", "ports": [{"name": "http", "containerPort": 6379}]}
    other = {"metadata": {"labels": {"app.kubernetes.io/name": "redis"}},
             "spec": {"containers": [redis]}}  # fmt: skip
    pods.append(("redis", "gurulu", other))
    targets = []
    for index, (deployment, namespace, template) in enumerate(pods):
        meta = {
            "__meta_kubernetes_namespace": namespace,
            "__meta_kubernetes_pod_name": f"{deployment}-7d9f8-x{index}",
            "__meta_kubernetes_pod_phase": "Running",
            "__meta_kubernetes_pod_ip": f"10.1.0.{index + 1}",
        }
        for key, value in template["metadata"].get("labels", {}).items():
            meta[f"__meta_kubernetes_pod_label_{name(key)}"] = value
            meta[f"__meta_kubernetes_pod_labelpresent_{name(key)}"] = "true"
        for key, value in template["metadata"].get("annotations", {}).items():
            meta[f"__meta_kubernetes_pod_annotation_{name(key)}"] = value
        for container in template["spec"]["containers"]:
            for port in container.get("ports", []):
                labels = {
                    **meta,
                    "__meta_kubernetes_pod_container_name": container["name"],
                    "__meta_kubernetes_pod_container_port_name": port.get("name", ""),
                    "__meta_kubernetes_pod_container_port_number": str(port["containerPort"]),
                }
                address = f"{meta['__meta_kubernetes_pod_ip']}:{port['containerPort']}"
                targets.append({"targets": [address], "labels": labels})
    return targets


def test_prometheus_in_kubernetes_gives_each_service_the_job_name_the_alerts_match(tmp_path):
    """Real Prometheus relabels the pods of the manifests (the pod discovery replaced by a
    file of the labels it would report: Debian's Prometheus is built without it)."""
    (tmp_path / "pods.json").write_text(json.dumps(pod_targets()))
    config = kubernetes_scrape()
    [job] = config["scrape_configs"]
    del job["kubernetes_sd_configs"]
    job["file_sd_configs"] = [{"files": [str(tmp_path / "pods.json")]}]
    config["rule_files"] = [str(DEPLOY / "prometheus/alerts.yml")]
    local = tmp_path / "prometheus.yml"
    local.write_text(yaml.safe_dump(config))
    run(tool("promtool"), "check", "config", str(local))
    with running_prometheus(local, tmp_path) as url:
        active = wait_for_targets(url, len(SERVICES))
    found = {t["labels"]["job"]: t for t in active}
    assert sorted(found) == sorted(f"gurulu-{name}" for name in SERVICES)
    for name in SERVICES:
        labels = found[f"gurulu-{name}"]["labels"]
        assert labels["instance"].endswith(":8080" if name == "api" else ":9464"), name
        assert labels["namespace"] == "gurulu" and labels["pod"].startswith(f"{name}-")
        assert found[f"gurulu-{name}"]["scrapeUrl"].endswith("/metrics")
    named = {job for _, expr in expressions() for job in re.findall(r'job="([^"]+)"', expr)}
    assert named and named <= set(found)


@contextlib.contextmanager
def running_prometheus(config: Path, work: Path) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{sock.getsockname()[1]}"
    command = [tool("prometheus"), f"--config.file={config}", f"--web.listen-address={address}",
               f"--storage.tsdb.path={work / 'data'}"]  # fmt: skip
    with open(work / "prometheus.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield f"http://{address}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_for_targets(url: str, wanted: int) -> list[dict]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{url}/api/v1/targets", params={"state": "active"}, timeout=5)
            active = answer.json()["data"]["activeTargets"]
            if len(active) >= wanted:
                return active
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(0.3)
    raise AssertionError("Prometheus did not discover the pods in time")


def alerts() -> list[dict]:
    rules = yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def test_every_alert_has_a_promtool_unit_test():
    tests = yaml.safe_load((DEPLOY / "prometheus/alerts_test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    assert {rule["alert"] for rule in alerts()} <= tested


def test_destinations_alert_when_syncs_fail_and_when_the_service_is_down():
    exprs = " ".join(rule["expr"] for rule in alerts())
    assert 'gurulu_destination_syncs_total{status="failed"}' in exprs
    assert 'up{job="gurulu-destinations"}' in exprs


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
    assert set(SERVICES) <= set(deployments)
    assert {"api", "evaluator", "ticker", "destinations"} <= budgets
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


def test_the_placeholder_secrets_are_refused_by_the_services():
    [secret] = [d for _, d in k8s_documents() if d["kind"] == "Secret"]
    assert set(secret["stringData"]) == set(SECRETS)
    with pytest.raises(ValueError):
        Settings(admin_token=secret["stringData"]["GURULU_ADMIN_TOKEN"])
    with pytest.raises(ValueError):
        Settings(encryption_key=secret["stringData"]["GURULU_ENCRYPTION_KEY"])


def test_the_api_and_destinations_read_the_secret_with_the_encryption_key():
    [secret] = [d for _, d in k8s_documents() if d["kind"] == "Secret"]
    deployments = {
        d["metadata"]["name"]: d for _, d in k8s_documents() if d["kind"] == "Deployment"
    }
    for name in KEY_HOLDERS:
        [container] = deployments[name]["spec"]["template"]["spec"]["containers"]
        refs = [
            source["secretRef"]["name"] for source in container["envFrom"] if "secretRef" in source
        ]
        assert refs == [secret["metadata"]["name"]], name


SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")
TARGET_LABELS = {"job", "instance"}  # added by Prometheus to every scraped series


def known_metrics() -> set[str]:
    names = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        for suffix in SUFFIXES:
            names.add(family.name + suffix)
    return names | {"up"}


def label_names(metric: str) -> set[str]:
    """The labels a series of `metric` (a sample name: `…_bucket`, `…_total`) can carry."""
    wrappers = [m for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)]
    for wrapper in wrappers:
        if metric == wrapper._name or metric in (wrapper._name + s for s in SUFFIXES):
            bucket = {"le"} if metric.endswith("_bucket") else set()
            return set(wrapper._labelnames) | bucket | TARGET_LABELS
    return TARGET_LABELS if metric == "up" else set()


def dashboard() -> dict:
    return json.loads((DEPLOY / "grafana/dashboards/gurulu.json").read_text())


def graphs() -> list[dict]:
    """The dashboard's panels that query (rows only group them)."""
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def queries() -> list[tuple[str, str, str]]:
    """(where, expression, the text that shows its labels: legend or annotations)."""
    found = [
        (p["title"], t["expr"], t.get("legendFormat", "")) for p in graphs() for t in p["targets"]
    ]
    found += [(r["alert"], r["expr"], " ".join(r["annotations"].values())) for r in alerts()]
    return found


def expressions() -> list[tuple[str, str]]:
    return [(where, expr) for where, expr, _ in queries()]


@pytest.mark.parametrize("where,expr", expressions())
def test_dashboards_and_alerts_query_metrics_that_exist(where, expr):
    used = set(re.findall(r"\b(gurulu_[a-z_]+|up)\b", expr))
    assert used, where
    assert used <= known_metrics(), (where, used - known_metrics())


@pytest.mark.parametrize("where,expr,shown", queries())
def test_dashboards_and_alerts_use_labels_their_metrics_have(where, expr, shown):
    used = set(re.findall(r"\b(gurulu_[a-z_]+|up)\b", expr))
    have = set().union(*(label_names(metric) for metric in used))
    grouped = {
        name.strip() for by in re.findall(r"\bby \(([^)]*)\)", expr) for name in by.split(",")
    }
    matched = set(re.findall(r"[{,]\s*(\w+)\s*(?:=~|!~|!=|=)\s*\"", expr))
    displayed = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", shown))
    displayed |= set(re.findall(r"\$labels\.(\w+)", shown))
    assert grouped | matched | displayed <= have, (where, (grouped | matched | displayed) - have)


def dashboard_variables() -> dict[str, dict]:
    return {v["name"]: v for v in dashboard()["templating"]["list"]}


GRAFANA_VARIABLES = {"__interval", "__rate_interval", "__range", "__range_s", "__interval_ms"}
# Observed at each tick's refreshes and the syncs after them: bursts an interval apart.
BURSTS = {
    "gurulu_refresh_lag_seconds_bucket", "gurulu_refresh_duration_seconds_bucket",
    "gurulu_refresh_rows_read_bucket", "gurulu_refreshes_total",
    "gurulu_destination_syncs_total", "gurulu_destination_sync_lag_seconds_bucket",
    "gurulu_destination_sync_duration_seconds_bucket", "gurulu_destination_deliveries_total",
}  # fmt: skip


def test_the_dashboard_has_a_window_variable_of_a_few_intervals_defaulting_to_an_hour():
    window = dashboard_variables()["window"]
    options = [option["value"] for option in window["options"]]
    assert window["type"] == "interval" and not window["auto"]
    assert options == window["query"].split(",") == ["5m", "15m", "1h", "3h"]
    assert window["current"]["value"] == "1h"
    assert [option["value"] for option in window["options"] if option["selected"]] == ["1h"]


def test_refresh_and_sync_quantiles_and_rates_are_over_the_window_not_the_scrape_interval():
    """With hourly ticks, a rate over $__rate_interval is blank ~58 minutes in 60."""
    ranges = [
        (where, metric, duration)
        for where, expr in expressions()
        for metric, duration in re.findall(r"\b(gurulu_\w+)(?:\{[^}]*\})?\[([^\]]+)\]", expr)
    ]
    bursts = [(where, metric, duration) for where, metric, duration in ranges if metric in BURSTS]
    on_the_dashboard = {where for where, _, _ in bursts} & {p["title"] for p in graphs()}
    assert {"Refresh lag (request → done)", "Refresh lag p95 by reason"} <= on_the_dashboard
    for where, metric, duration in bursts:
        if where in on_the_dashboard:
            assert duration == "$window", (where, metric)


def test_every_variable_a_dashboard_query_uses_is_defined():
    defined = set(dashboard_variables()) | GRAFANA_VARIABLES
    for where, expr in expressions():
        used = set(re.findall(r"\$\{?(\w+)", expr))
        assert used <= defined, (where, used - defined)


def test_every_dashboard_query_parses_with_each_window(tmp_path):
    """promtool reads each query, with every option of the window, as a recording rule."""
    fixed = {"__rate_interval": "1m", "__interval": "15s", "__range": "6h", "__range_s": "21600"}
    groups = []
    for option in dashboard_variables()["window"]["options"]:
        values = {**fixed, "window": option["value"]}
        rules = []
        for index, target in enumerate(t for p in graphs() for t in p["targets"]):
            expr = re.sub(r"\$\{?(\w+)\}?", lambda m, v=values: v[m.group(1)], target["expr"])
            rules.append({"record": f"dashboard:query_{index}", "expr": expr})
        groups.append({"name": f"window-{option['value']}", "rules": rules})
    (tmp_path / "queries.yml").write_text(yaml.safe_dump({"groups": groups}))
    run(tool("promtool"), "check", "rules", str(tmp_path / "queries.yml"))


def test_stat_panels_of_counts_show_whole_numbers():
    """increase() extrapolates to the window's edges: 16.2 ticks, rounded to 16."""
    stats = [p for p in graphs() if p["type"] == "stat"]
    assert stats
    for stat in stats:
        assert stat["fieldConfig"]["defaults"]["decimals"] == 0, stat["title"]
        for target in stat["targets"]:
            if "increase(" in target["expr"]:
                assert target["expr"].startswith("round("), stat["title"]


def test_grafana_is_provisioned_with_the_datasource_and_the_dashboard():
    datasource = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    uid = datasource["datasources"][0]["uid"]
    assert all(p["datasource"]["uid"] == uid for p in graphs())
    assert all(t["datasource"]["uid"] == uid for p in graphs() for t in p["targets"])
    titles = " ".join(p["title"] for p in graphs()).lower()
    for wanted in ("refresh lag", "backlog", "outcome", "joined", "api latency", "api errors"):
        assert wanted in titles


def test_the_dashboard_has_a_destinations_row_of_syncs_rows_lag_and_duration():
    panels = dashboard()["panels"]
    [row] = [i for i, p in enumerate(panels) if p["type"] == "row" and p["title"] == "Destinations"]
    below = panels[row + 1 :]
    assert below and all(p["type"] != "row" for p in below)
    exprs = {p["title"].lower(): " ".join(t["expr"] for t in p["targets"]) for p in below}
    wanted = {
        "syncs per minute by platform and status": "by (platform, status)",
        "rows per hour by platform, change and outcome": "by (platform, change, outcome)",
        "sync lag p95 by platform": "gurulu_destination_sync_lag_seconds_bucket",
        "sync duration": "gurulu_destination_sync_duration_seconds_bucket",
    }
    for title, query in wanted.items():
        assert any(title in t and query in e for t, e in exprs.items()), title
    tops = [p["gridPos"]["y"] for p in below]
    assert min(tops) > panels[row]["gridPos"]["y"]
