"""The CSV export of a 1M-member audience: every member once, under the contract's header,
while the API process's memory stays flat (the rows stream from ClickHouse)."""

from __future__ import annotations

import csv
import json
import threading
import time
from pathlib import Path

import httpx
import psutil

from tests.e2e.conftest import start_system, stop_system
from tests.e2e.test_faults import preload
from tests.e2e.test_smoke import wait_for

MEMBERS = 1_000_000
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


class PeakRss(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)


def test_a_million_member_export_streams_with_flat_memory(tmp_path):
    data_dir = tmp_path / "data"
    key = preload(data_dir, people=MEMBERS, events=MEMBERS)
    system = start_system(data_dir)
    headers = {"Authorization": f"Bearer {key}"}
    try:
        with httpx.Client(base_url=system.url, headers=headers, timeout=300) as api:
            api.post("/v1/cohorts", json={"name": "viewers", "rules": ["event:page_view"]})
            requested = time.monotonic()
            audience_id = api.post(
                "/v1/audiences", json={"name": "viewers", "source_cohort_id": "viewers"}
            ).json()["id"]
            wait_for(lambda: api.get(f"/v1/audiences/{audience_id}/changes").json()["data"], 120)
            to_snapshot = time.monotonic() - requested
            assert api.get(f"/v1/audiences/{audience_id}").json()["member_count"] == MEMBERS
            watch = PeakRss(system.process.pid)
            baseline = watch.peak
            watch.start()
            rows, header, seen = 0, None, set()
            started = time.monotonic()
            with api.stream("GET", f"/v1/audiences/{audience_id}/export.csv") as answer:
                assert answer.headers["content-type"].startswith("text/csv")
                for record in csv.reader(answer.iter_lines()):
                    if header is None:
                        header = record
                        continue
                    rows += 1
                    if rows % 97 == 0:
                        seen.add(record[1])
            exported_in = time.monotonic() - started
            watch.running = False
            watch.join()
    finally:
        stop_system(system)
    growth_mb = (watch.peak - baseline) / 2**20
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "export-memory.json").write_text(
        json.dumps(
            {
                "members": rows,
                "api_rss_before_mb": round(baseline / 2**20, 1),
                "api_rss_peak_mb": round(watch.peak / 2**20, 1),
                "growth_mb": round(growth_mb, 1),
                "export_seconds": round(exported_in, 2),
                "request_to_snapshot_seconds": round(to_snapshot, 2),
            },
            indent=2,
        )
    )
    assert header == ["audience_id", "person_id", "joined_at"]
    assert rows == MEMBERS and len(seen) == MEMBERS // 97
    # Holding 1M rows in Python would take hundreds of MB; streaming holds a block.
    assert growth_mb < 100, f"the API grew by {growth_mb:.0f} MB during the export"
