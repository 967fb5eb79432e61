"""Real faults against real processes: the whole system killed (SIGKILL) in the middle of a
refresh, and another process taking its message over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx
import psutil
import pytest

from tests.e2e.conftest import start_system, stop_system
from tests.e2e.test_smoke import wait_for

FAST_RECOVERY = {
    "GURULU_CLAIM_IDLE_SECONDS": "1",
    "GURULU_LOCK_TTL_SECONDS": "3",
    "GURULU_STUCK_AFTER_SECONDS": "20",
}


def preload(data_dir, people: int, events: int) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.preload", str(data_dir), str(people), str(events)],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1]


def runs_of(api: httpx.Client, audience_id: str) -> list[dict]:
    return api.get(f"/v1/audiences/{audience_id}/runs").json()["data"]


def test_a_system_killed_mid_refresh_is_taken_over_and_equals_a_clean_run(tmp_path):
    data_dir = tmp_path / "data"
    key = preload(data_dir, people=400_000, events=4_000_000)
    first = start_system(data_dir, extra_env=FAST_RECOVERY)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=first.url, headers=headers, timeout=60) as api:
        rules = ["event:add_to_cart", "not event:purchase"]  # no window: a fixed answer
        cohort = api.post("/v1/cohorts", json={"name": "carts", "rules": rules}).json()
        audience = api.post("/v1/audiences", json={"name": "carts", "source_cohort_id": "carts"})
        audience_id = audience.json()["id"]
        killed_in = wait_for(
            lambda: next((r for r in runs_of(api, audience_id) if r["status"] == "running"), None),
            timeout=60,
            every=0.01,
        )
    os.kill(first.process.pid, signal.SIGKILL)
    killed_at = datetime.now(UTC)
    first.process.wait()
    first.log.close()

    second = start_system(data_dir, extra_env=FAST_RECOVERY)
    try:
        with httpx.Client(base_url=second.url, headers=headers, timeout=60) as api:
            run = wait_for(
                lambda: next(
                    (r for r in runs_of(api, audience_id)
                     if r["run_id"] == killed_in["run_id"] and r["status"] == "succeeded"),
                    None,
                ),
                timeout=90,
            )  # fmt: skip
            # It was finished by the second process, after the first one died.
            assert datetime.fromisoformat(run["finished_at"]) > killed_at
            expected = cohort["count"]
            assert (run["joined_count"], run["left_count"], run["member_count"]) == (
                expected, 0, expected,
            )  # fmt: skip
            daily = wait_for(lambda: api.get(f"/v1/audiences/{audience_id}/changes").json()["data"])
            assert (daily[0]["joined_count"], daily[0]["member_count"]) == (expected, expected)
            exported = api.get(f"/v1/audiences/{audience_id}/export.csv").text.splitlines()
            assert len(exported) == expected + 1
            # A clean refresh now finds nothing to change: the recovered state is exact.
            again = api.post(f"/v1/audiences/{audience_id}/refresh").json()["run_id"]
            clean = wait_for(
                lambda: next(
                    (r for r in runs_of(api, audience_id)
                     if r["run_id"] == again and r["status"] == "succeeded"),
                    None,
                )
            )  # fmt: skip
            assert (clean["joined_count"], clean["left_count"]) == (0, 0)
            assert clean["member_count"] == expected
    finally:
        assert stop_system(second) == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_stops_everything_including_the_redis_server(tmp_path, signum):
    system = start_system(tmp_path / "data")
    redis_dir = str((tmp_path / "data" / "redis").resolve())
    # The embedded redis-server daemonises; it is the one working in the system's data dir.
    redis_servers = [
        p for p in psutil.process_iter(["name"])
        if "redis-server" in (p.info["name"] or "") and _cwd(p) == redis_dir
    ]  # fmt: skip
    assert len(redis_servers) == 1
    system.process.send_signal(signum)
    assert system.process.wait(timeout=60) == 0
    system.log.close()
    time.sleep(0.5)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in redis_servers)


def _cwd(process) -> str | None:
    try:
        return process.cwd()
    except Exception:
        return None
