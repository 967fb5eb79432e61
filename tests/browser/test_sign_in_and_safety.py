"""Signing in and out, and what the app refuses: another workspace's ids, posts without
the CSRF token, pages without a session."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import Running
from .support import assert_accessible, shot, sign_in


def test_a_bad_key_is_refused_with_a_clear_error_and_a_good_key_signs_in(
    page: Page, running: Running
) -> None:
    page.goto(f"{running.url}/")  # the URL `gurulu up` prints
    expect(page).to_have_url(re.compile(r"/app/login\?next=/app/audiences$"))
    assert_accessible(page)
    shot(page, "login")

    page.get_by_label("Secret key").fill("gsk_0123456789abcdef_not-the-secret")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#secret_key-error")).to_contain_text("That secret key is not valid")
    expect(page.get_by_label("Secret key")).to_have_attribute("aria-invalid", "true")
    shot(page, "login-refused")

    page.get_by_label("Secret key").fill(running.demo_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{running.url}/app/audiences")
    expect(page.locator(".workspace")).to_contain_text("Demo shop")
    cookie = next(c for c in page.context.cookies() if c["name"] == "gurulu_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/app"
    assert running.demo_key not in cookie["value"]


def test_after_signing_out_every_page_sends_back_to_sign_in(page: Page, running: Running) -> None:
    sign_in(page, running.url, running.demo_key)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{running.url}/app/login")
    expect(page.locator(".flash")).to_contain_text("You are signed out")

    for path in ("/app/audiences", "/app/cohorts", "/app/cohorts/new"):
        page.goto(running.url + path)
        expect(page).to_have_url(re.compile(rf"/app/login\?next={path}$"))
    live = page.request.get(
        f"{running.url}/app/audiences/live", headers={"Accept": "application/json"}
    )
    assert live.status == 401


def test_a_copy_of_the_session_cookie_kept_from_before_sign_out_signs_nobody_in(
    page: Page, running: Running
) -> None:
    sign_in(page, running.url, running.demo_key)
    kept = next(c for c in page.context.cookies() if c["name"] == "gurulu_session")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{running.url}/app/login")

    page.context.clear_cookies()
    page.context.add_cookies([kept])  # the copy, replayed as it was before sign-out
    page.goto(f"{running.url}/app/cohorts")
    expect(page).to_have_url(re.compile(r"/app/login\?next=/app/cohorts$"))
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.context.clear_cookies()
    page.context.add_cookies([kept])
    live = page.request.get(
        f"{running.url}/app/audiences/live", headers={"Accept": "application/json"}
    )
    assert live.status == 401

    sign_in(page, running.url, running.demo_key)  # signing in again gives a new session
    expect(page.locator(".workspace")).to_contain_text("Demo shop")


def test_another_workspaces_ids_answer_the_apps_404(page: Page, running: Running) -> None:
    with running.system.client(running.demo_key) as demo:
        audience = demo.get("/v1/audiences").json()["data"][0]
        cohort = demo.get("/v1/cohorts").json()["data"][0]
    _, other_key = running.system.workspace()
    sign_in(page, running.url, other_key)

    for path in (
        f"/app/audiences/{audience['id']}",
        f"/app/audiences/{audience['id']}/archive",
        f"/app/audiences/{audience['id']}/export.csv",
        f"/app/cohorts/{cohort['id']}",
    ):
        response = page.goto(running.url + path)
        assert response is not None and response.status == 404, path
        expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    shot(page, "not-found")

    token = page.locator('input[name="csrf_token"]').first.input_value()
    archived = page.request.post(
        f"{running.url}/app/audiences/{audience['id']}/archive", form={"csrf_token": token}
    )
    assert archived.status == 404
    with running.system.client(running.demo_key) as demo:
        assert demo.get(f"/v1/audiences/{audience['id']}").status_code == 200


def test_revoking_the_key_a_session_signed_in_with_ends_that_session(
    page: Page, running: Running
) -> None:
    workspace_id, key = running.system.workspace()
    sign_in(page, running.url, key)
    expect(page).to_have_url(f"{running.url}/app/audiences")
    with running.system.admin() as admin:
        keys = f"/v1/admin/workspaces/{workspace_id}/keys"
        successor = admin.post(keys).json()["secret_key"]
        old_id = key.split("_")[1]
        assert admin.delete(f"{keys}/{old_id}").status_code == 204

    page.goto(f"{running.url}/app/cohorts")
    expect(page).to_have_url(re.compile(r"/app/login\?next=/app/cohorts$"))
    sign_in(page, running.url, successor)
    expect(page).to_have_url(f"{running.url}/app/audiences")


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    page: Page, running: Running
) -> None:
    _, key = running.system.workspace()
    with running.system.client(key) as api:
        api.post("/v1/cohorts", json={"name": "everyone", "rules": ["event:visit"]})
    sign_in(page, running.url, key)
    form = {"name": "Forged", "source_cohort_id": "everyone", "sync": "hourly"}

    missing = page.request.post(f"{running.url}/app/audiences", form=form)
    wrong = page.request.post(
        f"{running.url}/app/audiences", form=form | {"csrf_token": "not-the-token"}
    )
    preview = page.request.post(
        f"{running.url}/app/cohorts/preview",
        data={"rules": ["event:visit"]},
        headers={"Accept": "application/json"},
    )
    signed_out = page.request.post(f"{running.url}/app/logout", form={})

    assert (missing.status, wrong.status, preview.status, signed_out.status) == (403,) * 4
    assert "This form has expired" in missing.text()
    with running.system.client(key) as api:
        assert api.get("/v1/audiences").json()["data"] == []
    page.goto(f"{running.url}/app/audiences")
    expect(page).to_have_url(f"{running.url}/app/audiences")  # still signed in


def test_the_builders_preview_refuses_a_body_that_is_not_unicode_text(
    page: Page, running: Running
) -> None:
    """A lone surrogate escape is valid JSON but not text: 400, not a 500 from the store."""
    _, key = running.system.workspace()
    sign_in(page, running.url, key)
    page.goto(f"{running.url}/app/cohorts/new")
    token = page.locator('input[name="csrf_token"]').first.input_value()
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    answer = page.request.post(
        f"{running.url}/app/cohorts/preview",
        data=b'{"rules": ["person:plan = \\ud800"], "match": "all"}',
        headers=headers | {"X-CSRF-Token": token},
    )
    assert answer.status == 400, answer.text()
    assert answer.json()["error"]["message"].startswith("The form was not sent as expected")


def test_an_action_sent_after_the_session_ended_leads_back_to_its_page_after_sign_in(
    page: Page, running: Running
) -> None:
    _, key = running.system.workspace()
    with running.system.client(key) as api:
        api.post("/v1/events", json={"events": [{"event": "visit", "person_id": "ana"}]})
        api.post("/v1/cohorts", json={"name": "visitors", "rules": ["event:visit"]})
        audience = api.post("/v1/audiences", json={"name": "V", "source_cohort_id": "visitors"})
        audience_id = audience.json()["id"]
        runs_before = len(api.get(f"/v1/audiences/{audience_id}/runs").json()["data"])
    sign_in(page, running.url, key)
    page.goto(f"{running.url}/app/audiences/{audience_id}?days=90")
    page.context.clear_cookies()  # the session ends while the page is open

    page.get_by_role("button", name="Refresh now").click()
    expect(page).to_have_url(
        re.compile(rf"/app/login\?next=/app/audiences/{audience_id}%3Fdays%3D90&unsaved=1$")
    )
    expect(page.locator(".flash--warning")).to_have_text(
        "You were signed out, so that change was not made. Sign in, then make it again."
    )
    page.get_by_label("Secret key").fill(key)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{running.url}/app/audiences/{audience_id}?days=90")
    expect(page.get_by_role("button", name="Refresh now")).to_be_visible()
    with running.system.client(key) as api:
        assert len(api.get(f"/v1/audiences/{audience_id}/runs").json()["data"]) == runs_before


def _shop(running: Running) -> str:
    """A workspace where one person has both started and left a checkout; its key."""
    _, key = running.system.workspace()
    events = [{"event": e, "person_id": "ayse"} for e in ("add_to_cart", "checkout_started")]
    with running.system.client(key) as api:
        api.post("/v1/events", json={"events": events}).raise_for_status()
    return key


def _cohorts(running: Running, key: str) -> list[tuple[str, list[str]]]:
    with running.system.client(key) as api:
        found = api.get("/v1/cohorts").json()["data"]
    return [(c["name"], c["rules"]) for c in found]


def test_a_form_older_than_the_session_comes_back_filled_in_and_saves_when_sent_again(
    page: Page, running: Running
) -> None:
    """Signed out and in again in another tab: the open builder's form carries the old
    session's token. Sending it changes nothing, and the builder comes back as it was."""
    key = _shop(running)
    sign_in(page, running.url, key)
    page.goto(f"{running.url}/app/cohorts/new")
    page.get_by_label("Name").fill("high-intent")
    for event in ("add_to_cart", "checkout_started"):
        page.get_by_role("button", name="+ Add rule").click()
        card = page.locator("[data-rule]").last
        card.get_by_label("Condition").select_option("event")
        card.get_by_label("Event", exact=True).fill(event)
    expect(page.locator("[data-preview-count]")).to_have_text("1")

    other = page.context.new_page()
    other.goto(f"{running.url}/app/audiences")
    other.get_by_role("button", name="Sign out").click()
    sign_in(other, running.url, key)
    other.close()

    page.get_by_role("button", name="Save cohort").click()
    expect(page).to_have_url(f"{running.url}/app/cohorts/new")
    expect(page.locator(".flash--warning")).to_have_text(
        "That form was older than your session (you signed in again after opening it), so the"
        " change was not made. Send it again. What you typed is back in the form."
    )
    assert _cohorts(running, key) == []
    expect(page.get_by_label("Name")).to_have_value("high-intent")
    events = page.locator("[data-rule]").get_by_label("Event", exact=True)
    expect(events).to_have_count(2)
    assert [e.input_value() for e in events.all()] == ["add_to_cart", "checkout_started"]
    expect(page.locator("[data-preview-count]")).to_have_text("1")
    shot(page, "builder-restored-after-stale-form")

    page.get_by_role("button", name="Save cohort").click()
    expect(page.get_by_role("link", name="high-intent", exact=True)).to_be_visible()
    assert _cohorts(running, key) == [
        ("high-intent", ["event:add_to_cart in last 7d", "event:checkout_started in last 7d"])
    ]
    # Saved, so the draft is gone: a new form is empty.
    page.goto(f"{running.url}/app/cohorts/new")
    expect(page.get_by_label("Name")).to_have_value("")
    assert page.evaluate("Object.keys(sessionStorage)") == []


def test_what_was_typed_while_signed_out_is_back_after_signing_in(
    page: Page, running: Running
) -> None:
    key = _shop(running)
    sign_in(page, running.url, key)
    page.goto(f"{running.url}/app/cohorts/new")
    page.get_by_role("button", name="Rule text").click()
    page.get_by_label("Name").fill("carts")
    page.get_by_label("Rules, one per line").fill("event:add_to_cart in last 7d")
    page.get_by_text("Any", exact=True).click()
    page.context.clear_cookies()  # the session ends while the form is open

    page.get_by_role("button", name="Save cohort").click()
    expect(page).to_have_url(re.compile(r"/app/login\?next=/app/cohorts/new&unsaved=1$"))
    page.get_by_label("Secret key").fill(key)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{running.url}/app/cohorts/new")
    expect(page.locator(".flash--warning")).to_have_text(
        "You are signed in again. The change you sent while signed out was not made: send it"
        " again. What you typed is back in the form."
    )
    expect(page.get_by_label("Name")).to_have_value("carts")
    expect(page.get_by_label("Rules, one per line")).to_have_value("event:add_to_cart in last 7d")
    expect(page.get_by_label("Any of the rules")).to_be_checked()
    assert _cohorts(running, key) == []
    page.get_by_role("button", name="Save cohort").click()
    expect(page.get_by_role("link", name="carts", exact=True)).to_be_visible()
    assert _cohorts(running, key) == [("carts", ["event:add_to_cart in last 7d"])]


def test_a_credential_typed_into_a_form_is_never_kept_as_a_draft(
    page: Page, running: Running
) -> None:
    key = _shop(running)
    with running.system.client(key) as api:
        api.post("/v1/cohorts", json={"name": "carts", "rules": ["event:add_to_cart"]})
        audience = api.post("/v1/audiences", json={"name": "C", "source_cohort_id": "carts"})
    sign_in(page, running.url, key)
    page.goto(f"{running.url}/app/audiences/{audience.json()['id']}")
    page.get_by_label("Destination type").select_option(label="Webhook")
    page.get_by_label("Endpoint URL").fill("https://crm.example.com/hooks")
    page.get_by_label("Signing secret").fill("whsec_c2VjcmV0LXRoYXQtbXVzdC1ub3QtYmUta2VwdA")
    page.locator("#destination-name").fill("CRM")
    page.context.clear_cookies()

    page.get_by_role("button", name="Connect", exact=True).click()
    assert "whsec_" not in page.evaluate("JSON.stringify(sessionStorage)")
    page.get_by_label("Secret key").fill(key)
    page.get_by_role("button", name="Sign in").click()

    expect(page.locator(".flash--warning")).to_contain_text("What you typed is back in the form.")
    expect(page.get_by_label("Destination type")).to_have_value("webhook")
    expect(page.get_by_label("Endpoint URL")).to_be_visible()
    expect(page.get_by_label("Endpoint URL")).to_have_value("https://crm.example.com/hooks")
    expect(page.locator("#destination-name")).to_have_value("CRM")
    expect(page.get_by_label("Signing secret")).to_have_value("")
    with running.system.client(key) as api:
        assert api.get(f"/v1/audiences/{audience.json()['id']}/destinations").json()["data"] == []


def test_a_sign_in_page_older_than_the_session_asks_again_or_goes_on_if_signed_in(
    page: Page, running: Running
) -> None:
    _, key = running.system.workspace()
    login = f"{running.url}/app/login?next=/app/cohorts"

    def sign_in_on(tab: Page) -> None:
        tab.get_by_label("Secret key").fill(key)
        tab.get_by_role("button", name="Sign in").click()

    stale = page.context.new_page()
    stale.goto(login)
    page.goto(login)
    sign_in_on(page)
    expect(page).to_have_url(f"{running.url}/app/cohorts")
    # Signed in meanwhile: the old sign-in page goes where it was going.
    sign_in_on(stale)
    expect(stale).to_have_url(f"{running.url}/app/cohorts")
    expect(stale.locator(".flash")).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    stale.goto(login)
    sign_in_on(page)
    page.get_by_role("button", name="Sign out").click()
    # Signed in and out again meanwhile: it asks again, and the next attempt works.
    sign_in_on(stale)
    expect(stale).to_have_url(login)
    expect(stale.locator(".flash--warning")).to_have_text(
        "That sign-in page had expired. Sign in again."
    )
    sign_in_on(stale)
    expect(stale).to_have_url(f"{running.url}/app/cohorts")
