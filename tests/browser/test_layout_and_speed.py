"""Every page at phone width (nothing wider than the screen, controls labelled) and the
time a page of 100 audiences takes to render."""

from __future__ import annotations

import statistics
import time

import httpx
from playwright.sync_api import Page

from .conftest import Running
from .support import assert_accessible, assert_fits, shot, sign_in
from .test_audiences import PEOPLE, wait_until_refreshed

PHONE = {"width": 390, "height": 844}


def test_every_page_is_readable_at_phone_width(page: Page, running: Running) -> None:
    page.set_viewport_size(PHONE)
    page.goto(f"{running.url}/app/login")
    assert_fits(page)
    sign_in(page, running.url, running.demo_key)
    with running.system.client(running.demo_key) as api:
        audience = api.get("/v1/audiences").json()["data"][0]["id"]
        cohort = api.get("/v1/cohorts").json()["data"][0]["id"]
    pages = {
        "audiences": "/app/audiences",
        "audience": f"/app/audiences/{audience}",
        "cohorts": "/app/cohorts",
        "cohort-builder": f"/app/cohorts/{cohort}",
        "cohort-new": "/app/cohorts/new",
        "audience-archive": f"/app/audiences/{audience}/archive",
    }
    for name, path in pages.items():
        page.goto(running.url + path)
        page.wait_for_load_state("networkidle")
        assert_fits(page)
        assert_accessible(page)
        shot(page, f"{name}-phone")


def test_the_cohort_builder_screenshot(page: Page, running: Running) -> None:
    sign_in(page, running.url, running.demo_key)
    page.get_by_role("link", name="Cohorts").click()
    page.get_by_role("link", name="churn-risk", exact=True).click()
    page.wait_for_selector("[data-preview-details]:not([hidden])")
    assert_accessible(page)
    shot(page, "cohort-builder", docs=True)


def test_a_page_of_100_audiences_renders_in_well_under_a_second(
    page: Page, running: Running
) -> None:
    _, key = running.system.workspace()
    with running.system.client(key) as api:
        api.post("/v1/events", json={"events": PEOPLE}).raise_for_status()
        api.post("/v1/cohorts", json={"name": "carts", "rules": ["event:add_to_cart"]})
        for n in range(100):
            made = api.post("/v1/audiences", json={"name": f"A{n:03}", "source_cohort_id": "carts"})
            made.raise_for_status()
    wait_until_refreshed(running, key, 100)
    sign_in(page, running.url, key)
    assert page.locator("tbody[data-live-region] tr").count() == 100
    assert page.locator("svg.spark, tbody .muted.small").count() >= 100

    cookie = next(c for c in page.context.cookies() if c["name"] == "gurulu_session")
    timings = []
    with httpx.Client(base_url=running.url, cookies={cookie["name"]: cookie["value"]}) as web:
        for _ in range(7):
            started = time.perf_counter()
            answer = web.get("/app/audiences")
            timings.append(time.perf_counter() - started)
            assert answer.status_code == 200 and answer.text.count("<tr id=") == 100
    median = statistics.median(timings)
    print(
        f"\n/app/audiences with 100 audiences: median {median * 1000:.0f} ms, "
        f"max {max(timings) * 1000:.0f} ms over {len(timings)} requests"
    )
    assert median < 0.5, timings
