"""Audiences in the browser: promoting a cohort and watching the first refresh fill the
list without a reload, the quota at its limit, an audience's page and its actions, and
the CSV download."""

from __future__ import annotations

import csv
import io
import re
import time

from playwright.sync_api import Page, expect

from .conftest import Running
from .support import assert_accessible, shot, sign_in

PEOPLE = [{"event": "add_to_cart", "person_id": f"p{n:03d}"} for n in range(42)]


def shop(
    running: Running, cohort: str, audiences: int = 0, prefix: str = "A"
) -> tuple[str, list[str]]:
    """A new workspace of 42 shoppers with a cohort of them and `audiences` audiences on it
    (named prefix + number): its key and the audiences' ids."""
    _, key = running.system.workspace()
    with running.system.client(key) as api:
        api.post("/v1/events", json={"events": PEOPLE}).raise_for_status()
        api.post("/v1/cohorts", json={"name": cohort, "rules": ["event:add_to_cart"]})
        ids = []
        for n in range(audiences):
            made = api.post(
                "/v1/audiences", json={"name": f"{prefix}{n:03}", "source_cohort_id": cohort}
            )
            made.raise_for_status()
            ids.append(made.json()["id"])
    return key, ids


def make_backlog(running: Running, audiences: int = 5, refreshes: int = 4) -> None:
    """Keep the evaluators busy for a few seconds (another workspace's refreshes), so that
    the audience made next is still refreshing when its page first renders."""
    key, ids = shop(running, "ballast", audiences, prefix="b")
    with running.system.client(key) as api:
        for _ in range(refreshes):
            for audience_id in ids:
                api.post(f"/v1/audiences/{audience_id}/refresh")


def test_a_new_audience_appears_at_once_and_fills_in_without_a_reload(
    page: Page, running: Running
) -> None:
    _, key = running.system.workspace()
    with running.system.client(key) as api:
        api.post("/v1/events", json={"events": PEOPLE}).raise_for_status()
        api.post("/v1/cohorts", json={"name": "carts", "rules": ["event:add_to_cart"]})
    sign_in(page, running.url, key)
    expect(page.get_by_role("heading", name="No audiences yet")).to_be_visible()
    shot(page, "audiences-empty")

    page.locator("#new summary").click()
    page.get_by_label("Source cohort").select_option(label="carts — 42 people")
    page.get_by_label("Name").fill("Sepet terk edenler")
    make_backlog(running)
    page.get_by_role("button", name="Create audience").click()

    row = page.locator("tbody tr", has_text="Sepet terk edenler")
    expect(row).to_be_visible()
    expect(page.locator("main")).to_have_attribute("data-live-busy", "true")
    expect(row).to_contain_text("Refreshing")
    page.evaluate("window.__notReloaded = true")
    shot(page, "audiences-refreshing")

    expect(row.locator(".count")).to_have_text("42", timeout=60_000)
    expect(row).not_to_contain_text("Refreshing")
    assert page.evaluate("window.__notReloaded") is True
    expect(page.locator("#live-status")).to_contain_text("Refresh finished")
    shot(page, "audiences-filled")


def test_at_the_free_plan_limit_creating_is_disabled_with_a_message(
    page: Page, running: Running
) -> None:
    _, key = running.system.workspace(plan="free")
    with running.system.client(key) as api:
        api.post("/v1/cohorts", json={"name": "carts", "rules": ["event:add_to_cart"]})
        for n in range(3):
            api.post("/v1/audiences", json={"name": f"A{n}", "source_cohort_id": "carts"})
    sign_in(page, running.url, key)

    expect(page.locator("#quota")).to_contain_text("3 of 3 active audiences, Free plan")
    expect(page.get_by_role("button", name="New audience")).to_be_disabled()
    expect(page.locator("#quota-message")).to_contain_text(
        "You are using all 3 active audiences of the Free plan"
    )
    shot(page, "audiences-quota-full")

    token = page.locator('input[name="csrf_token"]').first.input_value()
    forced = page.request.post(
        f"{running.url}/app/audiences",
        form={"csrf_token": token, "name": "A4", "source_cohort_id": "carts"},
    )
    assert forced.status == 402
    assert "Pause or archive one to make room" in forced.text()

    page.get_by_role("link", name="A0").click()
    page.get_by_role("button", name="Pause").click()
    expect(page.locator(".flash")).to_contain_text("Paused")
    page.get_by_role("link", name="Audiences", exact=True).first.click()
    expect(page.locator("#quota")).to_contain_text("2 of 3 active audiences, Free plan")
    expect(page.locator("#new summary")).to_be_visible()


def test_the_audience_page_shows_the_chart_runs_and_recent_people(
    page: Page, running: Running
) -> None:
    sign_in(page, running.url, running.demo_key)
    shot(page, "audiences", docs=True)
    page.get_by_role("link", name="Yüksek niyetli ziyaretçiler").click()

    chart = page.locator("svg.chart-plot")
    expect(chart).to_be_visible()
    points = chart.locator("polyline.line").get_attribute("points") or ""
    assert len(points.split()) >= 28  # a month of daily snapshots
    assert page.locator("svg.chart-bars rect.bar--joined").count() >= 28
    assert "members on" in (chart.locator("desc").text_content() or "")
    runs = page.locator("[data-live-region=runs] tbody tr.run")
    expect(runs).to_have_count(10)
    aligned = "el => getComputedStyle(el).textAlign"
    numbers = page.locator("[data-live-region=runs] .num")
    assert set(numbers.evaluate_all(f"els => els.map({aligned})")) == {"right"}  # as headed
    expect(runs.first).to_contain_text("Succeeded")
    expect(page.locator(".people-list").first.locator("li").first).to_be_visible()
    members = page.locator(".stat--main .stat-value").inner_text()
    assert members.replace(",", "").isdigit()
    assert_accessible(page)
    shot(page, "audience-chart")  # the README's is taken with a destination

    page.get_by_role("link", name="Show older runs").click()
    expect(page).to_have_url(re.compile(r"runs=50"))
    assert runs.count() >= 31  # a month of daily ticks, and the catch-up at start

    # An address edited by hand shows the page with the default, or the nearest bound.
    address = page.url.split("?")[0]
    for query, days, shown_runs in (
        ("?days=abc&runs=", "30", 10),
        ("?days=365&runs=9999", "90", None),
    ):
        answer = page.goto(address + query)
        assert answer is not None and answer.status == 200, query
        expect(page.locator('.segmented [aria-current="true"]')).to_have_text(f"{days} days")
        if shown_runs:
            expect(runs).to_have_count(shown_runs)


def test_the_csv_download_is_the_apis_export(page: Page, running: Running) -> None:
    sign_in(page, running.url, running.demo_key)
    page.get_by_role("link", name="B2B account: acme.com").click()
    members = int(page.locator(".stat--main .stat-value").inner_text().replace(",", ""))
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    body = download.value.path().read_text()

    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["audience_id", "person_id", "joined_at"]
    assert len(rows) - 1 == members > 0
    audience_id = page.url.rsplit("/", 1)[-1]
    assert {row[0] for row in rows[1:]} == {audience_id}
    assert download.value.suggested_filename == f"b2b-account-acme-com-{audience_id}.csv"
    with running.system.client(running.demo_key) as api:
        assert api.get(f"/v1/audiences/{audience_id}/export.csv").text == body


def test_refresh_pause_resume_rename_and_archive_from_the_audience_page(
    page: Page, running: Running
) -> None:
    _, key = running.system.workspace()
    with running.system.client(key) as api:
        api.post("/v1/events", json={"events": PEOPLE}).raise_for_status()
        api.post("/v1/cohorts", json={"name": "carts", "rules": ["event:add_to_cart"]})
        audience = api.post("/v1/audiences", json={"name": "Carts", "source_cohort_id": "carts"})
        hook = {"url": "http://127.0.0.1:9/hook", "secret": "whsec_" + "a" * 32}
        api.post(
            f"/v1/audiences/{audience.json()['id']}/destinations",
            json={"type": "webhook", "name": "CRM", "config": hook, "mode": "mirror"},
        ).raise_for_status()
    sign_in(page, running.url, key)
    page.goto(f"{running.url}/app/audiences/{audience.json()['id']}")

    page.get_by_role("button", name="Refresh now").click()
    expect(page.locator(".flash")).to_contain_text("Refresh requested")
    runs = page.locator("[data-live-region=runs] tbody tr.run")
    expect(runs.first).to_contain_text("Refresh now")
    expect(runs.first).to_contain_text("Succeeded", timeout=60_000)
    expect(runs).to_have_count(2)

    expect(page.locator(".lede")).to_contain_text("refreshes every hour")
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.locator("h1 .badge")).to_have_text("Paused")
    expect(page.locator(".lede")).to_contain_text("paused: not refreshing until resumed")
    expect(page.locator(".lede")).not_to_contain_text("refreshes every")
    page.get_by_role("button", name="Resume", exact=True).click()
    expect(page.locator("h1 .badge")).to_have_text("Active")

    page.get_by_text("More", exact=True).click()
    page.get_by_label("Rename").fill("Sepetler")
    page.get_by_role("button", name="Save name").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sepetler")

    page.get_by_text("More", exact=True).click()
    page.get_by_role("link", name="Archive audience…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Archive “Sepetler”?")
    expect(page.locator(".consequences")).to_contain_text(
        "Its destination (CRM) stops syncing. The people already sent stay there"
    )
    shot(page, "audience-archive")
    page.get_by_role("button", name="Archive audience").click()
    expect(page.locator(".flash")).to_contain_text("Archived “Sepetler”")
    expect(page.get_by_role("heading", name="No audiences yet")).to_be_visible()
    with running.system.client(key) as api:
        assert api.get("/v1/audiences").json()["data"] == []


def wait_until_refreshed(running: Running, key: str, count: int, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    with running.system.client(key) as api:
        while time.monotonic() < deadline:
            listed = api.get("/v1/audiences").json()["data"]
            if len(listed) == count and all(a["last_refreshed_at"] for a in listed):
                return
            time.sleep(1)
    raise AssertionError("the audiences did not all refresh in time")


def test_in_a_long_list_a_new_audience_and_its_confirmation_are_both_in_view(
    page: Page, running: Running
) -> None:
    key, _ = shop(running, "carts", 20, prefix="Older ")
    sign_in(page, running.url, key)
    page.locator("#new summary").click()
    page.get_by_label("Source cohort").select_option(label="carts — 42 people")
    page.get_by_label("Name").fill("Newest")
    page.get_by_role("button", name="Create audience").click()

    expect(page.locator(".flash")).to_contain_text("“Newest” is live")
    expect(page.locator(".flash")).to_be_in_viewport()  # not scrolled away by a jump to the row
    expect(page.locator("tbody tr").first).to_contain_text("Newest")
    expect(page.locator("tbody tr").first).to_be_in_viewport()
