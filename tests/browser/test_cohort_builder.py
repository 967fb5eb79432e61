"""The rule builder: every form of the rule language, a live preview that counts what
the API counts, errors next to their rule, and the CLI's rule text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from .conftest import Running
from .support import shot, sign_in

EVENTS = [
    {"event": "add_to_cart", "person_id": "ayse", "properties": {"amount": 120}},
    {"event": "checkout_started", "person_id": "ayse"},
    {"event": "add_to_cart", "person_id": "mehmet", "properties": {"amount": 40}},
    *[{"event": "purchase", "person_id": "zeynep", "properties": {"amount": 200}}] * 3,
    {"event": "login", "person_id": "can"},
]
EVERYONE = len({event["person_id"] for event in EVENTS})
PERSONS = [
    {"person_id": "ayse", "properties": {"plan": "pro", "email": "a@example.com"}},
    {"person_id": "mehmet", "properties": {"plan": "free"}},
    {"person_id": "zeynep", "properties": {"plan": "pro", "email": "z@example.com"}},
]


@pytest.fixture
def shop(running: Running) -> Iterator[str]:
    """A workspace with a few people and a cohort to refer to; yields its key."""
    _, key = running.system.workspace()
    with running.system.client(key) as api:
        api.post("/v1/events", json={"events": EVENTS}).raise_for_status()
        api.post("/v1/persons", json={"persons": PERSONS}).raise_for_status()
        api.post("/v1/cohorts", json={"name": "carts", "rules": ["event:add_to_cart"]})
        api.post("/v1/cohorts", json={"name": "buyers", "rules": ["event:purchase"]})
    yield key


def new_cohort(page: Page, running: Running, key: str) -> None:
    """Signed in to the workspace of `key`, on an empty cohort form."""
    sign_in(page, running.url, key)
    page.goto(f"{running.url}/app/cohorts/new")


def rule(page: Page, index: int) -> Locator:
    return page.locator("[data-rule]").nth(index)


def add_rule(page: Page, kind: str) -> Locator:
    page.get_by_role("button", name="+ Add rule").click()
    card = page.locator("[data-rule]").last
    card.get_by_label("Condition").select_option(kind)
    return card


def event_rule(card: Locator, event: str, count: tuple[str, str] | None, within: str | None):
    card.get_by_label("Event", exact=True).fill(event)
    if count:
        card.get_by_label("How often").select_option(count[0])
        card.get_by_label("Times").fill(count[1])
    card.get_by_label("When").select_option("in" if within else "")
    if within:
        card.get_by_label("Amount").fill(within[:-1])
        card.get_by_label("Unit").select_option(within[-1])


def condition(root: Locator, label: str, name: str, op: str, value: str | None = None):
    root.get_by_label(label, exact=True).fill(name)
    root.get_by_label("Operator").select_option(op)
    if value is not None:
        root.get_by_label("Value").fill(value)


def api_preview(running: Running, key: str, rules: list[str], match: str) -> int:
    with running.system.client(key) as api:
        answer = api.post("/v1/cohorts/preview", json={"rules": rules, "match": match})
        answer.raise_for_status()
        return answer.json()["count"]


def build_every_form(page: Page) -> None:
    """One rule of each form, through the builder's controls only. Any of them matches
    everyone but zeynep (a buyer, with an email and a plan), so the count tells the rules
    apart: neither nobody nor everyone."""
    event_rule(rule(page, 0), "add_to_cart", (">=", "1"), "30d")
    card = add_rule(page, "event")
    event_rule(card, "add_to_cart", None, "7d")
    card.get_by_role("button", name="+ Where a property…").click()
    condition(card.locator("[data-filter]"), "Event property", "amount", ">", "50")
    event_rule(add_rule(page, "not-event"), "purchase", None, None)
    condition(add_rule(page, "not-person"), "Property", "email", "is set")
    condition(add_rule(page, "person"), "Property", "plan", "=", "free")
    condition(add_rule(page, "person"), "Property", "plan", "is not set")
    add_rule(page, "cohort").get_by_label("Cohort").select_option(label="carts")
    add_rule(page, "not-cohort").get_by_label("Cohort").select_option(label="buyers")


def test_every_form_of_the_rule_language_builds_and_previews_what_the_api_counts(
    page: Page, running: Running, shop: str
) -> None:
    new_cohort(page, running, shop)
    page.get_by_label("Name").fill("every-form")
    page.get_by_text("Any", exact=True).click()
    build_every_form(page)

    texts = [
        "event:add_to_cart count >= 1 in last 30d",
        "event:add_to_cart where amount > 50 in last 7d",
        "not event:purchase",
        "not person:email is set",
        "person:plan = free",
        "person:plan is not set",
        "cohort:carts",
        "not cohort:buyers",
    ]
    expect(page.locator("[data-preview-text]")).to_have_text("\n".join(texts))
    count = api_preview(running, shop, texts, "any")
    assert 0 < count < EVERYONE  # a count that only the right rules give
    expect(page.locator("[data-preview-count]")).to_have_text(f"{count:,}")
    expect(page.locator("[data-preview-sample] li")).to_have_count(count)
    expect(page.locator("[data-preview]")).to_have_attribute("aria-live", "polite")
    shot(page, "cohort-builder-every-form")

    page.get_by_role("button", name="Save cohort").click()
    expect(page.locator(".flash")).to_contain_text("Saved “every-form”")
    with running.system.client(shop) as api:
        saved = api.get("/v1/cohorts/every-form").json()
    assert (saved["rules"], saved["match"], saved["count"]) == (texts, "any", count)
    expect(page.locator("tr", has_text="every-form")).to_contain_text(f"{count:,}")
    shot(page, "cohorts")


def test_a_rule_the_api_refuses_is_marked_on_that_rule(
    page: Page, running: Running, shop: str
) -> None:
    new_cohort(page, running, shop)
    event_rule(rule(page, 0), "add_to_cart", None, "7d")
    event_rule(add_rule(page, "event"), "checkout_started", None, "0d")

    second = rule(page, 1).locator("[data-rule-error]")
    expect(second).to_be_visible()
    expect(second).to_contain_text("A window of 0 is no time: make it at least 1")
    expect(rule(page, 0).locator("[data-rule-error]")).to_be_hidden()
    expect(rule(page, 1)).to_have_class("rule rule--invalid")

    rule(page, 1).get_by_label("Amount").fill("7")
    expect(page.locator("[data-preview-count]")).to_have_text("1")
    expect(second).to_be_hidden()


def test_an_error_lands_on_its_rule_when_a_rule_before_it_is_left_untouched(
    page: Page, running: Running, shop: str
) -> None:
    # Rule 1 is never touched, so it is not sent: the server's "rule 0" is card 2.
    new_cohort(page, running, shop)
    expect(page.locator("[data-preview-status]")).to_have_text("Fill in a rule to see who matches.")
    event_rule(add_rule(page, "event"), "purchase", None, "0d")

    second = rule(page, 1).locator("[data-rule-error]")
    expect(second).to_be_visible()
    expect(second).to_contain_text("make it at least 1")
    expect(rule(page, 1)).to_have_class("rule rule--invalid")
    expect(rule(page, 1).get_by_label("Amount")).to_have_attribute("aria-invalid", "true")
    expect(rule(page, 0).locator("[data-rule-error]")).to_be_hidden()
    expect(rule(page, 0)).to_have_class("rule")

    rule(page, 1).get_by_label("Amount").fill("30")
    expect(page.locator("[data-preview-count]")).to_have_text("1")
    expect(second).to_be_hidden()


def test_the_rule_text_box_takes_the_clis_text_and_points_at_mistakes(
    page: Page, running: Running, shop: str
) -> None:
    new_cohort(page, running, shop)
    page.get_by_label("Name").fill("high-intent")
    page.get_by_role("button", name="Rule text").click()
    box = page.get_by_label("Rules, one per line")

    mistake = "event:checkout_started in lst 7d"
    box.fill(f"event:add_to_cart in last 7d\n{mistake}")
    errors = page.locator("#rules-text-errors")
    expect(errors).to_contain_text(f"Line 2, column {mistake.index('lst') + 1}")
    expect(errors).to_contain_text('Expected "last" after "in"')
    shot(page, "cohort-text-error")

    box.fill("event:add_to_cart in last 7d\nevent:checkout_started in last 7d")
    expect(errors).to_be_empty()
    expect(page.locator("[data-preview-count]")).to_have_text("1")
    page.get_by_role("button", name="Builder").click()
    expect(page.locator("[data-rule]")).to_have_count(2)
    expect(rule(page, 1).get_by_label("Event", exact=True)).to_have_value("checkout_started")

    page.get_by_role("button", name="Save cohort").click()
    expect(page.locator(".flash")).to_contain_text("Saved “high-intent”: 1 person matches")


def test_a_number_in_another_spelling_is_pointed_out_and_quotes_make_it_text(
    page: Page, running: Running, shop: str
) -> None:
    new_cohort(page, running, shop)
    card = rule(page, 0)
    card.get_by_label("Condition").select_option("person")
    condition(card, "Property", "ltv", ">", "100,000")

    error = card.locator("[data-rule-error]")
    expect(error).to_contain_text("plain digits, like 100000")
    expect(card.get_by_label("Value")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("[data-preview-status]")).to_have_text("Fix rule 1 to update the count.")

    card.get_by_label("Value").fill('"100,000"')
    expect(error).to_be_hidden()
    expect(page.locator("[data-preview-text]")).to_have_text('person:ltv > "100,000"')
    card.get_by_label("Value").fill("100000")
    expect(page.locator("[data-preview-text]")).to_have_text("person:ltv > 100000")
    card.get_by_label("Operator").select_option("contains")
    card.get_by_label("Value").fill("1,000")
    expect(page.locator("[data-preview-text]")).to_have_text('person:ltv contains "1,000"')
    expect(error).to_be_hidden()


def test_switching_to_rule_text_right_after_an_edit_is_not_lost_to_the_preview(
    page: Page, running: Running, shop: str
) -> None:
    """The preview an edit schedules (350 ms later) used to cancel a switch asked for in
    the meantime. A slow preview (600 ms) makes the window wide."""

    def slow(route) -> None:  # type: ignore[no-untyped-def]
        page.wait_for_timeout(600)
        route.continue_()

    new_cohort(page, running, shop)
    event_rule(rule(page, 0), "add_to_cart", None, "7d")
    expect(page.locator("[data-preview-count]")).to_have_text("2")
    page.route("**/app/cohorts/preview", slow)

    rule(page, 0).get_by_label("Amount").fill("30")
    page.get_by_role("button", name="Rule text").click()

    box = page.get_by_label("Rules, one per line")
    expect(box).to_be_visible(timeout=10_000)
    expect(box).to_have_value("event:add_to_cart in last 30d")
    expect(page.get_by_role("button", name="Rule text")).to_have_attribute("aria-pressed", "true")


def test_a_misspelt_event_is_pointed_out_with_the_name_it_is_closest_to(
    page: Page, running: Running, shop: str
) -> None:
    new_cohort(page, running, shop)
    event_rule(rule(page, 0), "purchse", None, "30d")
    expect(page.locator("[data-preview-count]")).to_have_text("0")
    expect(page.locator("[data-preview-status]")).to_have_text(
        "Rule 1: No 'purchse' event has been seen in this workspace yet; did you mean 'purchase'?"
    )
    rule(page, 0).get_by_label("Event", exact=True).fill("purchase")
    expect(page.locator("[data-preview-count]")).to_have_text("1")
    expect(page.locator("[data-preview-status]")).to_have_text("")


def test_deleting_a_cohort_asks_first_and_is_refused_while_an_audience_uses_it(
    page: Page, running: Running, shop: str
) -> None:
    with running.system.client(shop) as api:
        api.post("/v1/audiences", json={"name": "Carts", "source_cohort_id": "carts"})
        ids = {c["name"]: c["id"] for c in api.get("/v1/cohorts").json()["data"]}
    sign_in(page, running.url, shop)
    page.goto(f"{running.url}/app/cohorts/{ids['buyers']}")
    page.get_by_role("link", name="Delete “buyers”…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete “buyers”?")
    page.get_by_role("link", name="Keep it").click()
    expect(page).to_have_url(f"{running.url}/app/cohorts/{ids['buyers']}")
    with running.system.client(shop) as api:
        assert api.get("/v1/cohorts/buyers").status_code == 200

    page.get_by_role("link", name="Delete “buyers”…").click()
    page.get_by_role("button", name="Delete cohort").click()
    expect(page.locator(".flash")).to_contain_text("Deleted the cohort “buyers”")

    page.goto(f"{running.url}/app/cohorts/{ids['carts']}/delete")
    page.get_by_role("button", name="Delete cohort").click()
    expect(page.locator("#general-error")).to_contain_text(
        "“carts” can't be deleted: it is the source of “Carts”. Archive those audiences first."
    )
    with running.system.client(shop) as api:
        assert {c["name"] for c in api.get("/v1/cohorts").json()["data"]} == {"carts"}
