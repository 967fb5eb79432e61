"""Every page at phone width (nothing wider than the screen, controls labelled), and a
page of 100 audiences (bench/app_pages.py times it)."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from .conftest import Running
from .support import assert_accessible, assert_fits, shot, sign_in
from .test_audiences import shop, wait_until_refreshed

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


def test_on_a_phone_the_preview_comes_before_the_save_button(page: Page, running: Running) -> None:
    page.set_viewport_size(PHONE)
    sign_in(page, running.url, running.demo_key)
    page.goto(f"{running.url}/app/cohorts/new")
    page.get_by_label("Event", exact=True).fill("add_to_cart")
    expect(page.locator("[data-preview-count]")).not_to_have_text("—")

    # At the end of the page the buttons (at the foot of the screen until then) settle.
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    preview = page.locator("[data-preview]").bounding_box()
    save = page.get_by_role("button", name="Save cohort").bounding_box()
    rules = page.locator("[data-rule]").first.bounding_box()
    assert preview and save and rules
    assert rules["y"] < preview["y"] < save["y"]  # rules, then who they match, then save
    page.get_by_role("button", name="Save cohort").scroll_into_view_if_needed()
    in_view = page.evaluate(
        "() => { const r = document.querySelector('[data-preview-count]').getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= innerHeight; }"
    )
    assert in_view, "the count is off screen when the Save button is in view"


def test_on_a_phone_the_count_and_save_stay_in_view_while_a_rule_is_edited(
    page: Page, running: Running
) -> None:
    """With four rules the preview is a screen or more below the first one: the foot of
    the screen keeps the buttons and the count, which follows each edit."""
    page.set_viewport_size(PHONE)
    sign_in(page, running.url, running.demo_key)
    page.goto(f"{running.url}/app/cohorts/new")
    page.get_by_role("button", name="Rule text").click()
    page.get_by_label("Rules, one per line").fill(
        "event:page_view in last 30d\nevent:product_viewed in last 30d\n"
        "event:add_to_cart in last 30d\nevent:checkout_started in last 30d"
    )
    page.get_by_role("button", name="Builder").click()
    expect(page.locator("[data-rule]")).to_have_count(4)
    mini = page.locator("[data-preview-mini]")
    expect(mini).to_have_text(re.compile(r"^[\d,]+ (people match|person matches)$"))
    before = mini.inner_text()

    event = page.locator("[data-rule]").first.get_by_label("Event", exact=True)
    event.scroll_into_view_if_needed()
    event.fill("purchase")
    expect(mini).not_to_have_text(before)
    count = page.locator("[data-preview-count]").inner_text()
    assert mini.inner_text().split(" ")[0] == count

    def on_screen(locator: Locator) -> bool:
        box = locator.bounding_box()
        return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]

    assert on_screen(event)
    assert not on_screen(page.locator("[data-preview-count]"))  # the preview is further down
    assert on_screen(mini) and on_screen(page.get_by_role("button", name="Save cohort"))
    assert_fits(page)
    shot(page, "cohort-builder-editing-phone")


def test_on_a_phone_an_event_rules_window_reads_on_one_line(page: Page, running: Running) -> None:
    page.set_viewport_size(PHONE)
    sign_in(page, running.url, running.demo_key)
    page.goto(f"{running.url}/app/cohorts/new")
    card = page.locator("[data-rule]").first

    def middles(*labels: str) -> dict[str, float]:
        boxes = {label: card.get_by_label(label, exact=True).bounding_box() for label in labels}
        assert all(boxes.values())
        return {label: box["y"] + box["height"] / 2 for label, box in boxes.items() if box}

    def same_line(middle: dict[str, float], *labels: str) -> bool:
        # the controls' middles within a few pixels (a select and an input differ by 1)
        return max(middle[x] for x in labels) - min(middle[x] for x in labels) < 4

    # "at least once": no count beside how often, and the window still on a line of its own
    once = middles("Event", "How often", "When", "Amount", "Unit")
    assert same_line(once, "When", "Amount", "Unit")
    assert once["Event"] < once["How often"] < once["When"] - 20
    assert shows_whole(card.get_by_label("When")) and shows_whole(card.get_by_label("Unit"))

    card.get_by_label("How often").select_option(">=")
    middle = middles("Event", "How often", "Times", "When", "Amount", "Unit")
    assert same_line(middle, "When", "Amount", "Unit")  # "in the last | 7 | days"
    assert same_line(middle, "How often", "Times")
    assert middle["Event"] < middle["How often"] < middle["When"] - 20
    assert_fits(page)
    shot(page, "cohort-rule-phone")


def test_a_new_audience_on_a_phone_shows_its_first_day_and_runs_that_fit(
    page: Page, running: Running
) -> None:
    _, key = running.system.workspace()
    visitors = [f"anon_{n:040x}" for n in range(3)]  # ids longer than a column is wide
    with running.system.client(key) as api:
        events = [{"event": "add_to_cart", "person_id": p} for p in visitors]
        api.post("/v1/events", json={"events": events}).raise_for_status()
        api.post("/v1/cohorts", json={"name": "carts", "rules": ["event:add_to_cart"]})
        made = api.post("/v1/audiences", json={"name": "New carts", "source_cohort_id": "carts"})
    wait_until_refreshed(running, key, 1)
    sign_in(page, running.url, key)
    address = f"{running.url}/app/audiences/{made.json()['id']}"
    for _ in range(30):  # the day's snapshot is folded just after the refresh
        page.goto(address)
        if page.locator("svg.chart-plot path.dot").count():
            break
        page.wait_for_timeout(1000)

    expect(page.locator("svg.chart-plot path.dot")).to_have_count(1)
    expect(page.locator(".chart-note")).to_contain_text("One day so far: 3 members")
    overflowing = """() => [...document.querySelectorAll('.people, .people-list li')]
        .filter(el => el.scrollWidth > el.clientWidth).length"""
    assert page.evaluate(overflowing) == 0
    page.set_viewport_size(PHONE)
    assert_fits(page)
    cells = page.locator("[data-live-region=runs] tr.run").first.locator("th, td")
    for n in range(cells.count()):
        box = cells.nth(n).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], n
    expect(cells.and_(page.locator('[data-label="Members"]'))).to_have_text("3")
    assert page.evaluate(overflowing) == 0
    shot(page, "audience-first-day-phone")


CUT_SHORT = """sel => [...document.querySelectorAll(sel)]
    .filter(el => el.scrollWidth > el.clientWidth).map(el => el.textContent.trim())"""


def test_on_a_phone_nothing_is_cut_short_and_the_more_menu_stays_on_screen(
    page: Page, running: Running
) -> None:
    page.set_viewport_size(PHONE)
    sign_in(page, running.url, running.demo_key)
    with running.system.client(running.demo_key) as api:
        audience = api.get("/v1/audiences").json()["data"][0]["id"]
    page.goto(f"{running.url}/app/audiences/{audience}")
    # when each run was asked for ("1 day ago") and why ("Scheduled"), whole
    assert page.evaluate(CUT_SHORT, "tr.run > [data-label='Requested']") == []
    assert page.evaluate(CUT_SHORT, "tr.run > [data-label='Reason']") == []

    page.get_by_text("More", exact=True).click()
    panel = page.locator(".menu-panel")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert_fits(page)
    shot(page, "audience-more-phone")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    page.get_by_text("More", exact=True).click()
    page.locator("h1").click()  # a click outside closes it too
    expect(panel).to_be_hidden()

    page.locator(".connect > summary").click()
    for radio in page.locator(".connect-mode input[type=radio]").all():
        box = radio.bounding_box()
        assert box and box["width"] >= 12 and box["height"] >= 12

    page.goto(f"{running.url}/app/cohorts/new")
    card = page.locator("[data-rule]").first
    card.get_by_label("Condition").select_option("not-event")
    assert shows_whole(card.get_by_label("Condition"))  # "Did not do an event"
    card.get_by_label("Condition").select_option("person")
    card.get_by_label("Operator").select_option(">=")
    assert shows_whole(card.get_by_label("Operator"))  # "is greater than or equal to"


def shows_whole(select: Locator) -> bool:
    """Does the select show its chosen option's text whole (beside its arrow)?"""
    return select.evaluate(
        """el => {
            const style = getComputedStyle(el);
            const context = document.createElement("canvas").getContext("2d");
            context.font = style.font;
            const text = context.measureText(el.options[el.selectedIndex].text).width;
            const arrow = 20;
            const room = el.clientWidth - parseFloat(style.paddingLeft)
                - parseFloat(style.paddingRight) - arrow;
            return text <= room;
        }"""
    )


def test_the_cohort_builder_screenshot(page: Page, running: Running) -> None:
    sign_in(page, running.url, running.demo_key)
    page.get_by_role("link", name="Cohorts").click()
    page.get_by_role("link", name="churn-risk", exact=True).click()
    page.wait_for_selector("[data-preview-details]:not([hidden])")
    assert_accessible(page)
    shot(page, "cohort-builder", docs=True)


def test_a_page_of_100_audiences_lists_every_one_with_its_trend(
    page: Page, running: Running
) -> None:
    """How long the page takes is measured by bench/app_pages.py, not asserted here."""
    key, _ = shop(running, "carts", 100)
    wait_until_refreshed(running, key, 100)
    sign_in(page, running.url, key)
    assert page.locator("tbody[data-live-region] tr").count() == 100
    assert page.locator("svg.spark, tbody .muted.small").count() >= 100
    rows = page.locator("tbody[data-live-region] tr").all_inner_texts()
    assert all(any(f"A{n:03}" in row for row in rows) for n in range(100))
