"""Destinations in the browser: connecting a webhook from an audience's page (to a local
Standard Webhooks receiver), watching its first sync's counts arrive without a reload, its
sync history, pausing and resuming it, and removing it after a confirmation; credentials
never reach the page."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.destinations.fakes import WebhookFake

from .conftest import Running
from .support import assert_accessible, assert_fits, shot, sign_in

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr"
AUDIENCE = "Yüksek niyetli ziyaretçiler"
PHONE = {"width": 375, "height": 812}


def test_a_webhook_connected_from_the_audience_page_gets_every_member_and_can_be_removed(
    page: Page, running: Running
) -> None:
    sign_in(page, running.url, running.demo_key)
    page.get_by_role("link", name=AUDIENCE).click()
    audience_page = page.url
    members = int(page.locator(".stat--main .stat-value").inner_text().replace(",", ""))
    assert members > 0
    expect(page.get_by_role("heading", name="Destinations")).to_be_visible()
    expect(page.locator("#destinations")).to_contain_text("No destinations yet")

    with WebhookFake(SECRET) as receiver:
        form = page.locator("form[data-connect-form]")
        page.get_by_label("Destination type").select_option(label="Webhook")
        expect(page.locator("#connect-webhook")).to_be_visible()
        expect(page.locator("#connect-meta_custom_audience")).to_be_hidden()
        expect(page.locator("#connect-google_customer_match")).to_be_hidden()
        form.get_by_label("Endpoint URL").fill(f"{receiver.url}/hooks/gurulu")
        form.get_by_label("Signing secret").fill(SECRET)
        page.locator("#destination-name").fill("CRM webhook")
        page.get_by_role("button", name="Connect", exact=True).click()

        expect(page.locator("#destinations .flash")).to_contain_text("Connected “CRM webhook”")
        page.evaluate("window.__notReloaded = true")
        card = page.locator(".destination", has_text="CRM webhook")
        expect(card).to_contain_text("Webhook · sends to 127.0.0.1:")
        last = card.locator(".sync-summary")
        expect(last).to_have_attribute("data-sync-status", "succeeded", timeout=60_000)
        expect(last.locator('[data-count="added"]')).to_have_text(f"{members:,}")
        expect(last.locator('[data-count="rejected"]')).to_have_text("0")
        assert page.evaluate("window.__notReloaded") is True
        expect(page.locator("#live-status")).to_contain_text("Up to date")
        assert len(receiver.members) == members and receiver.violations == []

        served = page.request.get(audience_page).text()
        assert SECRET not in served and SECRET not in page.content()
        assert SECRET[-4:] not in served  # not even its hint on the audience page
        assert_accessible(page)
        shot(page, "audience", docs=True)
        page.set_viewport_size(PHONE)
        assert_fits(page)
        shot(page, "audience-destinations-phone")
        page.set_viewport_size({"width": 1280, "height": 900})

        card.get_by_role("link", name="Sync history").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("CRM webhook")
        syncs = page.locator("[data-live-region=syncs] tbody tr.sync")
        expect(syncs).to_have_count(1)
        expect(syncs.first).to_contain_text("Connected")
        expect(syncs.first.locator('[data-count="added"]')).to_have_text(f"{members:,}")
        assert SECRET not in page.request.get(page.url).text()
        assert_accessible(page)
        shot(page, "destination")

        page.get_by_role("button", name="Pause").click()
        expect(page.locator(".flash")).to_contain_text("Paused “CRM webhook”")
        reason = page.locator(".paused-reason")
        expect(reason).to_contain_text("Paused by someone in your workspace")
        page.get_by_role("button", name="Resume").click()
        expect(page.locator(".flash")).to_contain_text("Resumed “CRM webhook”")
        expect(syncs.first).to_contain_text("Resumed")
        expect(syncs.first).to_contain_text("Succeeded", timeout=30_000)
        assert receiver.violations == []
        page.set_viewport_size(PHONE)
        assert_fits(page)
        cells = syncs.first.locator("th, td")
        for n in range(cells.count()):  # a sync in two lines, every count labelled
            box = cells.nth(n).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], n
        label = "el => getComputedStyle(el, '::before').content"
        assert syncs.first.locator('[data-count="added"]').evaluate(label) == '"Added"'
        shot(page, "destination-phone")

    page.get_by_role("link", name="Remove…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Remove “CRM webhook”?")
    assert_accessible(page)
    page.get_by_role("button", name="Remove destination").click()
    expect(page).to_have_url(f"{audience_page}#destinations")
    expect(page.locator("#destinations .flash")).to_contain_text("Removed “CRM webhook”")
    expect(page.locator(".destination")).to_have_count(0)
    audience_id = audience_page.rsplit("/", 1)[-1]
    with running.system.client(running.demo_key) as api:
        assert api.get(f"/v1/audiences/{audience_id}/destinations").json()["data"] == []
