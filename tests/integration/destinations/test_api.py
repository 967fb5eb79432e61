"""The destination routes: credentials never come back or reach a log, other workspaces'
ids answer 404, bad configurations 422 naming the field, and edits behave."""

from __future__ import annotations

import logging

import orjson
import pytest
from structlog.testing import capture_logs

from gurulu.common.store import workspaces
from tests.destinations.fakes import MetaFake, WebhookFake
from tests.integration.destinations.conftest import WEBHOOK_SECRET, harness
from tests.support import audience, cohort

TOKEN = "EAAB-very-secret-meta-token-4242"


async def test_credentials_are_never_returned_stored_in_clear_or_logged(
    db, redis, redis_url, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    async with harness(db, redis_url, tmp_path) as h:
        h.people(0, 3)
        await h.refresh()
        with MetaFake(TOKEN) as meta, WebhookFake(WEBHOOK_SECRET) as hook, capture_logs() as logs:
            config = {"audience_id": "77", "access_token": TOKEN, "api_base": meta.url}
            made = await h.connect("meta_custom_audience", config)
            webhook = await h.connect(
                "webhook", {"url": f"{hook.url}/hooks/gurulu", "secret": WEBHOOK_SECRET}
            )
            await h.synced(made["id"])
            await h.synced(webhook["id"])
            answers = [
                (await h.api.get(h.base)).text,
                (await h.api.get(f"{h.base}/{made['id']}")).text,
                (await h.api.patch(f"{h.base}/{made['id']}", json={"name": "Meta"})).text,
                (await h.api.get(f"{h.base}/{made['id']}/syncs")).text,
            ]
        stored = db.rows("SELECT config, credentials FROM destinations")
    assert made["credentials"] == {"access_token": "…4242"}
    assert webhook["credentials"] == {"secret": "…" + WEBHOOK_SECRET[-4:]}
    assert "access_token" not in made["config"] and "secret" not in webhook["config"]
    hashed = meta.members["77"]
    for secret in (TOKEN, WEBHOOK_SECRET):
        assert all(secret not in text for text in answers)
        assert secret not in orjson.dumps(made).decode() + orjson.dumps(webhook).decode()
        assert all(secret not in f"{row}" for row in stored)
        assert secret not in caplog.text and secret not in repr(logs)
    # Hashed PII stays out of the logs too.
    assert hashed and all(h_ not in caplog.text + repr(logs) for row in hashed for h_ in row if h_)


async def test_the_api_generates_a_signing_secret_and_shows_it_once(db, redis, redis_url, tmp_path):
    async with harness(db, redis_url, tmp_path) as h:
        made = await h.connect("webhook", {"url": "https://hooks.example/x"})
        shown = (await h.api.get(f"{h.base}/{made['id']}")).json()
    assert made["signing_secret"].startswith("whsec_")
    assert "signing_secret" not in shown and made["signing_secret"] not in str(shown)
    assert made["name"] == "Webhook to hooks.example" and made["first_sync_id"] is None


async def test_another_workspaces_audience_or_destination_is_not_found(
    db, redis, redis_url, tmp_path
):
    async with harness(db, redis_url, tmp_path) as h:
        made = await h.connect("webhook", {"url": "https://hooks.example/x"})
        other_ws, other_key = workspaces.create(db, "Other", "custom")
        other = audience(
            db, other_ws.workspace_id, cohort(db, other_ws.workspace_id, "c", "person:a = b")
        )
        theirs = {"Authorization": f"Bearer {other_key}"}
        mine = f"{h.base}/{made['id']}"
        calls = [
            ("GET", h.base, None),
            ("POST", h.base, {"type": "webhook", "config": {"url": "https://x.example"}}),
            ("GET", mine, None),
            ("PATCH", mine, {"status": "paused"}),
            ("DELETE", mine, None),
            ("GET", f"{mine}/syncs", None),
            ("POST", f"{mine}/sync", None),
        ]
        for method, path, body in calls:
            answer = await h.api.request(method, path, json=body, headers=theirs)
            assert answer.status_code == 404, (method, path, answer.text)
            assert answer.json()["error"]["code"] == "not_found"
        # Their own audience does not reach my destination either.
        cross = f"/v1/audiences/{other.audience_id}/destinations/{made['id']}"
        assert (await h.api.get(cross, headers=theirs)).status_code == 404
        assert (await h.api.get(mine)).json()["status"] == "active"


META = "meta_custom_audience"
GOOGLE = "google_customer_match"
HOOK = {"url": "https://x.example"}
ADS = {"customer_id": "1234567890", "product_destination_id": "2"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "webhook", "config": {"url": "ftp://x"}}, "config.url"),
        ({"type": "webhook", "config": HOOK | {"secret": "s"}}, "config.secret"),
        ({"type": "webhook", "config": HOOK | {"colour": "red"}}, "config.colour"),
        ({"type": "webhook", "config": HOOK, "mode": "replace"}, "mode"),
        ({"type": META, "config": {"access_token": "EAAB-12345678"}}, "config.audience_id"),
        ({"type": META, "config": {"audience_id": "1", "access_token": "EAAB-123", "api_base": ""}},
         "config.api_base"),
        ({"type": GOOGLE, "config": ADS | {"customer_id": "1", "access_token": "ya29.1234"}},
         "config.customer_id"),
        ({"type": GOOGLE, "config": ADS}, "config.access_token"),
        ({"type": "tiktok", "config": {}}, "type"),
        ({"type": "webhook", "config": {"url": "http://127.0.0.1:99999/"}}, "config.url"),
        ({"type": "webhook", "config": {"url": "http://127.0.0.1:1/\u0000"}}, "config.url"),
        ({"type": "webhook", "config": {"url": "https://x.example/a hook"}}, "config.url"),
        ({"type": "webhook", "config": {"url": "https://x.example:0/"}}, "config.url"),
        ({"type": "webhook", "name": "   ", "config": HOOK}, "name"),
        ({"type": "webhook", "name": "a\nb", "config": HOOK}, "name"),
    ],
)  # fmt: skip
async def test_a_bad_configuration_is_refused_naming_the_field(
    db, redis, redis_url, tmp_path, body, field
):
    async with harness(db, redis_url, tmp_path) as h:
        answer = await h.api.post(h.base, json=body)
        listed = (await h.api.get(h.base)).json()["data"]
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field
    assert listed == []


async def test_edits_keep_the_target_and_removal_hides_the_destination(
    db, redis, redis_url, tmp_path
):
    async with harness(db, redis_url, tmp_path) as h:
        config = {"audience_id": "77", "access_token": TOKEN}
        made = await h.connect("meta_custom_audience", config, name="Suppression")
        path = f"{h.base}/{made['id']}"
        moved = await h.api.patch(path, json={"config": {"audience_id": "78"}})
        edited = await h.api.patch(path, json={"mode": "add_only", "status": "paused"})
        refused = await h.api.post(f"{path}/sync")
        resumed = await h.api.patch(path, json={"status": "active"})
        not_yet = await h.api.post(f"{path}/sync")
        gone = await h.api.delete(path)
        after = await h.api.get(path)
    assert moved.status_code == 422 and moved.json()["error"]["field"] == "config.audience_id"
    assert (
        edited.json()["mode"] == "add_only" and edited.json()["paused_reason"] == "paused by a user"
    )
    assert refused.status_code == 409 and resumed.json()["status"] == "active"
    assert not_yet.status_code == 409 and "not refreshed yet" in not_yet.json()["error"]["message"]
    assert gone.status_code == 204 and after.status_code == 404
