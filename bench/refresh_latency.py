"""Benchmark: how long a refresh takes from request to daily snapshot, end to end.

    .venv/bin/python bench/refresh_latency.py [--people 2000] [--refreshes 10]

Starts `gurulu up` in a child process on a fresh data dir (as the end-to-end tests do),
loads N people who added to cart, defines a cohort on them, then, one at a time, asks for
refreshes over HTTP as a client would: a new audience, whose first refresh everyone joins,
timed until its run reads `succeeded` and until its daily row counts them; then a "refresh
now" of it (the steady state, nobody moves), timed until its run reads `succeeded` (its
daily row does not change, so there is no fold to see). Each figure is the wall time from
sending the request to seeing the result through the API, so it holds the API, the stream
hop to an evaluator, the refresh in ClickHouse, the hop to the snapshotter and its fold, and
the polling (every 5 ms). Prints each refresh, the medians, and last
`request to snapshot = X ms` (the first refresh's median).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.conftest import start_system, stop_system

POLL_SECONDS = 0.005


def until(check: Callable[[], bool], started: float, timeout: float = 60.0) -> float:
    """Seconds from `started` to the first time `check` holds."""
    while not check():
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"not done within {timeout:.0f} s")
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - started


def succeeded(api: httpx.Client, audience_id: str, run_id: str | None) -> Callable[[], bool]:
    def check() -> bool:
        found = api.get(f"/v1/audiences/{audience_id}/runs").json()["data"]
        mine = [r for r in found if run_id is None or r["run_id"] == run_id]
        if mine and mine[0]["status"] == "failed":
            raise SystemExit(f"the refresh failed: {mine[0]['error']}")
        return bool(mine) and mine[0]["status"] == "succeeded"

    return check


def snapshotted(api: httpx.Client, audience_id: str, joined: int) -> Callable[[], bool]:
    def check() -> bool:
        rows = api.get(f"/v1/audiences/{audience_id}/changes").json()["data"]
        return sum(r["joined_count"] for r in rows) == joined > 0

    return check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--refreshes", type=int, default=10)
    args = parser.parse_args(argv)
    if min(args.people, args.refreshes) < 1:
        parser.error("--people and --refreshes must be positive")
    first: list[tuple[float, float]] = []
    steady: list[float] = []
    with tempfile.TemporaryDirectory(prefix="gurulu-bench-latency-") as scratch:
        system = start_system(Path(scratch) / "data", tick_seconds=3600)
        try:
            _, key = system.workspace()
            with system.client(key) as api:
                people = [
                    {"event": "add_to_cart", "person_id": f"p{n}"} for n in range(args.people)
                ]
                for at in range(0, len(people), 10_000):
                    api.post("/v1/events", json={"events": people[at : at + 10_000]})
                rules = ["event:add_to_cart in last 7d"]
                api.post("/v1/cohorts", json={"name": "carts", "rules": rules}).raise_for_status()
                print(
                    f"gurulu up at {system.url}; {args.people:,} people in the cohort", flush=True
                )
                for n in range(args.refreshes):
                    started = time.perf_counter()
                    body = {"name": f"A{n}", "source_cohort_id": "carts"}
                    made = api.post("/v1/audiences", json=body)
                    made.raise_for_status()
                    audience_id = made.json()["id"]
                    done = until(succeeded(api, audience_id, None), started)
                    folded = until(snapshotted(api, audience_id, args.people), started)
                    first.append((done, folded))
                    started = time.perf_counter()
                    asked = api.post(f"/v1/audiences/{audience_id}/refresh")
                    asked.raise_for_status()
                    run_id = asked.json()["run_id"]
                    steady.append(until(succeeded(api, audience_id, run_id), started))
                    print(
                        f"  {n + 1}: first refresh {done * 1000:.0f} ms to succeeded,"
                        f" {folded * 1000:.0f} ms to its daily row;"
                        f" refresh now {steady[-1] * 1000:.0f} ms to succeeded",
                        flush=True,
                    )
        finally:
            stop_system(system)
    done = statistics.median(f[0] for f in first) * 1000
    folded = statistics.median(f[1] for f in first) * 1000
    print(f"first refresh  median {done:.0f} ms to succeeded, {folded:.0f} ms to its daily row")
    print(f"refresh now    median {statistics.median(steady) * 1000:.0f} ms to succeeded")
    print(f"request to snapshot = {folded:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
