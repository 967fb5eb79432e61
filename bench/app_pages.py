"""Benchmark: how long the web app takes to render its busiest list, /app/audiences.

    .venv/bin/python bench/app_pages.py [--audiences 100] [--requests 15]

Starts `gurulu up` in a child process on a fresh data dir (as the end-to-end tests do),
creates a workspace with one cohort and N audiences on it, waits until every audience has
refreshed (so each row has its member count, trend and run times), signs in to the web app
and times N requests of /app/audiences from here, over HTTP on loopback: the server's
rendering, its ClickHouse reads and the transfer, as a browser would wait for them.
Prints each request, then the median and the worst, and last `audiences page = X ms`.
The product's aim is "well under a second" for 100 audiences.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.conftest import System, start_system, stop_system

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PEOPLE = [{"event": "add_to_cart", "person_id": f"p{n:03d}"} for n in range(42)]


def populate(system: System, audiences: int) -> str:
    """A workspace with `audiences` audiences, every one refreshed; its secret key."""
    _, key = system.workspace()
    with system.client(key) as api:
        api.post("/v1/events", json={"events": PEOPLE}).raise_for_status()
        api.post("/v1/cohorts", json={"name": "carts", "rules": ["event:add_to_cart"]})
        for n in range(audiences):
            made = api.post("/v1/audiences", json={"name": f"A{n:03}", "source_cohort_id": "carts"})
            made.raise_for_status()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            listed = api.get("/v1/audiences").json()["data"]
            if sum(1 for a in listed if a["last_refreshed_at"]) >= audiences:
                return key
            time.sleep(1)
    raise SystemExit(f"the {audiences} audiences did not all refresh within 10 minutes")


def sign_in(web: httpx.Client, key: str) -> None:
    form = web.get("/app/login")
    token = _CSRF.search(form.text)
    if token is None:
        raise SystemExit("the sign-in page has no CSRF token")
    answer = web.post("/app/login", data={"secret_key": key, "csrf_token": token.group(1)})
    if answer.status_code != 303:
        raise SystemExit(f"signing in answered {answer.status_code}")


def measure(web: httpx.Client, audiences: int, requests: int) -> list[float]:
    timings = []
    for n in range(1, requests + 1):
        started = time.perf_counter()
        answer = web.get("/app/audiences")
        took = time.perf_counter() - started
        rows = answer.text.count("<tr id=")
        if answer.status_code != 200 or rows != audiences:
            raise SystemExit(f"/app/audiences answered {answer.status_code} with {rows} rows")
        timings.append(took)
        print(f"  request {n}: {took * 1000:.0f} ms ({len(answer.content):,} bytes)", flush=True)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--audiences", type=int, default=100)
    parser.add_argument("--requests", type=int, default=15)
    args = parser.parse_args(argv)
    if min(args.audiences, args.requests) < 1:
        parser.error("--audiences and --requests must be positive")
    with tempfile.TemporaryDirectory(prefix="gurulu-bench-app-") as scratch:
        system = start_system(Path(scratch) / "data", tick_seconds=3600)
        try:
            print(f"gurulu up at {system.url}; {args.audiences} audiences, refreshing", flush=True)
            key = populate(system, args.audiences)
            with httpx.Client(base_url=system.url, timeout=30) as web:
                sign_in(web, key)
                web.get("/app/audiences").raise_for_status()  # warm-up: templates, caches
                timings = measure(web, args.audiences, args.requests)
        finally:
            stop_system(system)
    median, worst = statistics.median(timings), max(timings)
    print(f"median {median * 1000:.0f} ms, max {worst * 1000:.0f} ms over {len(timings)} requests")
    print(f"audiences page = {median * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
