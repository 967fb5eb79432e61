"""The page's flow over HTTP against a running system."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 30.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not met in time")


def test_cohort_to_audience_to_export(api):
    events = [
        {"event": "add_to_cart", "person_id": "ana"},
        {"event": "checkout_started", "person_id": "ana"},
        {"event": "add_to_cart", "person_id": "bob"},
    ]
    assert api.post("/v1/events", json={"events": events}).json() == {"accepted": 3}
    cohort = api.post(
        "/v1/cohorts",
        json={
            "name": "high-intent",
            "rules": ["event:add_to_cart in last 7d", "event:checkout_started in last 7d"],
        },
    )
    assert cohort.status_code == 201 and cohort.json()["count"] == 1
    audience = api.post(
        "/v1/audiences",
        json={"name": "Yüksek niyetli ziyaretçiler", "source_cohort_id": "high-intent"},
    ).json()
    assert audience["status"] == "active"
    shown = wait_for(
        lambda: (a := api.get(f"/v1/audiences/{audience['id']}").json())["last_refreshed_at"] and a
    )
    assert shown["member_count"] == 1
    csv = api.get(f"/v1/audiences/{audience['id']}/export.csv")
    lines = csv.text.splitlines()
    assert lines[0] == "audience_id,person_id,joined_at"
    assert lines[1].startswith(f'"{audience["id"]}","ana",')


def test_the_api_docs_work_without_internet(system):
    import httpx

    page = httpx.get(f"{system.url}/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert httpx.get(f"{system.url}/docs-assets/{asset}").status_code == 200
    assert "redoc.standalone.js" in httpx.get(f"{system.url}/redoc").text
    assert httpx.get(f"{system.url}/openapi.json").json()["info"]["title"] == "Gurulu Audiences"


def test_gurulu_up_takes_port_and_data_dir_from_the_environment_and_flags_win(tmp_path):
    from tests.e2e.conftest import free_port, start_system, stop_system

    from_env = start_system(tmp_path / "from-env", flags=False)
    try:
        assert (tmp_path / "from-env" / "admin_token").exists()
    finally:
        assert stop_system(from_env) == 0

    decoys = {"GURULU_DATA_DIR": str(tmp_path / "decoy"), "GURULU_HTTP_PORT": str(free_port())}
    flagged = start_system(tmp_path / "flagged", extra_env=decoys)
    try:
        assert (tmp_path / "flagged" / "admin_token").exists()
        assert not (tmp_path / "decoy").exists()
    finally:
        assert stop_system(flagged) == 0
