"""Destinations in the web app, over the real app in process (real chDB, a real
redis-server): another workspace's destination is the 404 page for every page and action,
a refused configuration comes back next to its field in plain words (refused exactly as
the API refuses it), credentials never reach a page, and a sync's skipped and rejected
people are listed with their reasons."""

from __future__ import annotations

import html as markup
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from faststream.redis import RedisBroker

from gurulu.api import destinations as cases
from gurulu.api.app import create_app
from gurulu.api.context import ApiContext
from gurulu.api.destination_schemas import DestinationCreate
from gurulu.common import redis as redis_support
from gurulu.common.clickhouse import ClickHouse
from gurulu.common.clock import utcnow
from gurulu.common.ids import new_id
from gurulu.common.settings import Settings
from gurulu.common.store import destinations, syncs, workspaces
from gurulu.common.store.syncs import Sync
from tests.support import audience, cohort

TOKEN = "EAAB-very-secret-meta-token-4242"


@dataclass
class Web:
    ctx: ApiContext
    app: object

    def client(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app)  # type: ignore[arg-type]
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    @asynccontextmanager
    async def signed_in(self, key: str) -> AsyncIterator[httpx.AsyncClient]:
        """A browser-like client (it keeps the session cookie) signed in with `key`."""
        async with self.client() as browser:
            login = await browser.get("/app/login")
            answer = await browser.post(
                "/app/login", data={"csrf_token": csrf(login.text), "secret_key": key}
            )
            assert answer.status_code == 303, answer.text
            yield browser

    def shop(self) -> tuple[str, str, str]:
        """A workspace with an audience: (workspace id, secret key, audience id)."""
        db = self.ctx.db
        made, key = workspaces.create(db, "Shop", "custom")
        ws = made.workspace_id
        return ws, key, audience(db, ws, cohort(db, ws, "gold", "person:plan = gold")).audience_id


@asynccontextmanager
async def web(db: ClickHouse, url: str, data_dir: Path) -> AsyncIterator[Web]:
    client = redis_support.client(url)
    broker = RedisBroker(url, logger=None)
    ctx = ApiContext(Settings(data_dir=data_dir), db, client, broker)
    try:
        yield Web(ctx, create_app(ctx))
    finally:
        await client.aclose()


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def test_another_workspaces_destination_is_not_found_on_any_page_or_action(
    db, redis, redis_url, tmp_path
):
    async with web(db, redis_url, tmp_path) as app:
        ws, _, aud = app.shop()
        body = DestinationCreate(type="meta_custom_audience", config={"audience_id": "77",
                                 "access_token": TOKEN})  # fmt: skip
        made, _, _ = await cases.create(app.ctx, ws, aud, body)
        _, other_key, their_aud = app.shop()
        mine = f"/app/audiences/{aud}/destinations/{made.destination_id}"
        crossed = f"/app/audiences/{their_aud}/destinations/{made.destination_id}"
        async with app.signed_in(other_key) as browser:
            token = csrf((await browser.get(f"/app/audiences/{their_aud}")).text)
            form = {"csrf_token": token, "status": "paused"}
            answers = [
                await browser.get(mine),
                await browser.get(crossed),
                await browser.get(f"{mine}/remove"),
                await browser.get(f"{mine}/live", headers={"Accept": "application/json"}),
                await browser.post(f"{mine}/status", data=form),
                await browser.post(f"{crossed}/status", data=form),
                await browser.post(f"{mine}/sync", data=form),
                await browser.post(f"{mine}/remove", data=form),
                await browser.post(f"{crossed}/remove", data=form),
                await browser.post(
                    f"/app/audiences/{aud}/destinations",
                    data={"csrf_token": token, "type": "webhook", "webhook.url": "https://x.io"},
                ),
            ]
            theirs = await browser.get(f"/app/audiences/{their_aud}")
    for answer in answers:
        assert answer.status_code == 404, (answer.request.method, answer.request.url)
    assert "There is nothing at this address in your workspace" in answers[0].text
    assert made.destination_id not in theirs.text and "No destinations yet" in theirs.text
    kept = destinations.get(db, ws, aud, made.destination_id)
    assert kept is not None and kept.status == "active"
    assert destinations.of_audience(db, ws, their_aud) == []


@pytest.mark.parametrize(
    ("form", "field", "said"),
    [
        ({"type": "webhook", "webhook.url": "ftp://hooks.example/x"},
         "webhook.url", "Endpoint URL: must be an http(s) URL with a host."),
        ({"type": "webhook", "webhook.url": "https://hooks.example/x", "webhook.secret": "whsec_x"},
         "webhook.secret", "Signing secret: must be 'whsec_' followed by the base64 of the key."),
        ({"type": "meta_custom_audience", "meta_custom_audience.audience_id": "77"},
         "meta_custom_audience.access_token", "Access token is required."),
        ({"type": "google_customer_match", "google_customer_match.customer_id": "12",
          "google_customer_match.product_destination_id": "9",
          "google_customer_match.access_token": TOKEN},
         "google_customer_match.customer_id",
         "Google Ads customer ID: must be a 10-digit Google Ads customer id (dashes allowed)."),
        ({"type": "", "webhook.url": "https://hooks.example/x"},
         "type", "Choose what to connect"),
    ],
)  # fmt: skip
async def test_a_refused_configuration_is_said_next_to_its_field_as_the_api_refuses_it(
    db, redis, redis_url, tmp_path, form, field, said
):
    async with web(db, redis_url, tmp_path) as app:
        _, key, aud = app.shop()
        async with app.signed_in(key) as browser:
            token = csrf((await browser.get(f"/app/audiences/{aud}")).text)
            answer = await browser.post(
                f"/app/audiences/{aud}/destinations", data={"csrf_token": token, **form}
            )
        kind = form["type"]
        config = {k.split(".", 1)[1]: v for k, v in form.items() if k.startswith(f"{kind}.")}
        headers = {"Authorization": f"Bearer {key}"}
        async with app.client() as api:
            by_api = await api.post(
                f"/v1/audiences/{aud}/destinations",
                json={"type": kind, "config": config},
                headers=headers,
            )
    assert answer.status_code == 422
    html = answer.text
    element = field.replace(".", "-") if field != "type" else "destination-type"
    error = re.search(rf'<p class="field-error" id="{element}-error">.*?</p>', html, re.DOTALL)
    assert error and said in markup.unescape(error.group(0)), error
    assert re.search(rf'id="{element}"[^>]*aria-invalid="true"', html, re.DOTALL) or (
        f'aria-invalid="true" aria-describedby="{element}-error"' in html
    )
    assert '<details class="connect" id="connect" open>' in html
    assert TOKEN not in html and "whsec_x" not in html  # credentials are not written back
    if "webhook.url" in form and field != "type":
        assert f'value="{form["webhook.url"]}"' in html  # the rest is kept
    assert by_api.status_code == 422
    api_field = by_api.json()["error"]["field"]
    assert api_field == ("type" if field == "type" else "config." + field.split(".", 1)[1])
    assert destinations.of_audience(db, *_owner(db, aud)) == []


async def test_credentials_never_reach_a_page_and_a_made_secret_is_shown_once(
    db, redis, redis_url, tmp_path
):
    async with web(db, redis_url, tmp_path) as app:
        ws, key, aud = app.shop()
        async with app.signed_in(key) as browser:
            page = f"/app/audiences/{aud}"
            token = csrf((await browser.get(page)).text)
            meta = await browser.post(f"{page}/destinations", data={
                "csrf_token": token, "type": "meta_custom_audience", "mode": "add_only",
                "meta_custom_audience.audience_id": "77",
                "meta_custom_audience.access_token": f"  {TOKEN} ",
            })  # fmt: skip
            listed = await browser.get(page)
            hook = await browser.post(f"{page}/destinations", data={
                "csrf_token": token, "type": "webhook", "name": "CRM",
                "webhook.url": "https://crm.example/hooks/t0ps3cret-path",
            })  # fmt: skip
            made = {d.name: d for d in destinations.of_audience(db, ws, aud)}
            shown = [
                await browser.get(f"{page}/destinations/{d.destination_id}") for d in made.values()
            ]
            again = await browser.get(page)
    assert meta.status_code == 303 and meta.headers["location"] == f"{page}#destinations"
    assert "Connected “Meta audience 77”" in listed.text
    assert "Meta Custom Audience" in listed.text and "audience 77" in listed.text
    assert "Add only" in listed.text
    secret = re.search(r'id="signing-secret"[^>]*value="(whsec_[^"]+)"', hook.text)
    assert hook.status_code == 201 and secret, hook.text
    for answer in (listed, again, *shown):
        assert TOKEN not in answer.text and secret.group(1) not in answer.text
        assert "t0ps3cret-path" not in answer.text
    assert "…4242" in shown[0].text and "crm.example" in again.text
    assert made["CRM"].credential_hints["secret"] in shown[1].text


async def test_a_syncs_skipped_and_rejected_people_are_listed_with_their_reasons(
    db, redis, redis_url, tmp_path
):
    async with web(db, redis_url, tmp_path) as app:
        ws, key, aud = app.shop()
        body = DestinationCreate(type="meta_custom_audience", config={"audience_id": "77",
                                 "access_token": TOKEN})  # fmt: skip
        made, _, _ = await cases.create(app.ctx, ws, aud, body)
        dest = made.destination_id
        at = utcnow() - timedelta(minutes=5)
        syncs.save(db, Sync(
            ws, aud, dest, new_id("syn"), "run_1", "connected", "partial", at,
            to_add=5, added=2, skipped=2, skipped_reasons={"no email or phone": 2},
            rejected=1, rejected_sample=[
                {"person_id": "p-bad", "change": "add", "reason": "Meta: invalid entry"}
            ],
            started_at=at, finished_at=at + timedelta(seconds=3),
        ))  # fmt: skip
        destinations.save(db, made.but(status="paused", paused_reason="paused by a user"))
        async with app.signed_in(key) as browser:
            listed = await browser.get(f"/app/audiences/{aud}")
            history = await browser.get(f"/app/audiences/{aud}/destinations/{dest}")
            token = csrf(history.text)
            resumed = await browser.post(
                f"/app/audiences/{aud}/destinations/{dest}/status",
                data={"csrf_token": token, "status": "active", "from": "destination"},
            )
            after = await browser.get(resumed.headers["location"])
    card = listed.text[listed.text.find(f'id="dst-{dest}"') :]
    assert "Partly synced" in card and "Paused by someone in your workspace" in card
    assert 'data-count="added">2<' in card and 'data-count="rejected">1<' in card
    assert f'id="resume-{dest}"' in card and f'id="sync-{dest}"' not in card
    assert "Why 2 were skipped and 1 was rejected" in history.text
    assert "No email or phone" in history.text and "p-bad" in history.text
    assert "Meta: invalid entry" in history.text and "3.00 s" in history.text
    assert resumed.status_code == 303 and resumed.headers["location"].endswith(dest)
    assert "Resumed “Meta audience 77”" in after.text and 'id="pause"' in after.text


def _owner(db: ClickHouse, audience_id: str) -> tuple[str, str]:
    row = db.one(
        "SELECT workspace_id FROM audiences FINAL WHERE audience_id = {aud:String}",
        {"aud": audience_id},
    )
    assert row is not None
    return row["workspace_id"], audience_id
