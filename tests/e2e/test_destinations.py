"""Destinations on a running system (`gurulu up` in a child process): connect a webhook to an
audience, see its first sync land at a receiver, the next refresh's delta follow, and the
syncs reported by the API and the CLI."""

from __future__ import annotations

import json

from tests.destinations.fakes import WebhookFake
from tests.e2e.test_cli import gurulu, ok, rows
from tests.e2e.test_smoke import wait_for

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr"


def test_a_webhook_connected_to_an_audience_receives_its_members_and_deltas(system, workspace, api):
    people = [{"person_id": p, "properties": {"email": f"{p}@example.com"}} for p in ("ana", "bob")]
    api.post("/v1/persons", json={"persons": people}).raise_for_status()
    api.post("/v1/events", json={"events": [
        {"event": "add_to_cart", "person_id": "ana"}, {"event": "add_to_cart", "person_id": "bob"},
    ]}).raise_for_status()  # fmt: skip
    api.post("/v1/cohorts", json={"name": "carted", "rules": ["event:add_to_cart in last 7d"]})
    audience = api.post("/v1/audiences", json={"name": "Carted", "source_cohort_id": "carted"})
    aud = audience.json()["id"]
    wait_for(lambda: api.get(f"/v1/audiences/{aud}").json()["last_refreshed_at"])
    base = f"/v1/audiences/{aud}/destinations"
    with WebhookFake(SECRET) as receiver:
        config = {"url": f"{receiver.url}/hooks/gurulu", "secret": SECRET}
        made = api.post(base, json={"type": "webhook", "config": config, "name": "CRM"})
        assert made.status_code == 201, made.text
        dest = made.json()["id"]
        first = wait_for(lambda: _finished(api, base, dest, 1), 60)[0]
        assert receiver.members == {"ana", "bob"}

        api.post("/v1/events", json={"events": [{"event": "add_to_cart", "person_id": "cem"}]})
        api.post(f"/v1/audiences/{aud}/refresh").raise_for_status()
        latest = wait_for(lambda: _finished(api, base, dest, 2), 60)[0]
        assert receiver.members == {"ana", "bob", "cem"} and receiver.violations == []
        added = gurulu(
            system,
            workspace[1],
            f"destination add {aud} --type webhook --name Archive --mode add_only"
            f" --url {receiver.url}/hooks/gurulu --secret {SECRET}",
        )
        assert "Connected" in ok(added) and "First sync requested" in added.stdout
        second = api.get(base).json()["data"][1]
        assert (second["name"], second["mode"]) == ("Archive", "add_only")
        wait_for(lambda: _finished(api, base, second["id"], 1), 60)
        assert receiver.violations == []

    assert (first["status"], first["added"], first["trigger"]) == ("succeeded", 2, "connected")
    assert (latest["status"], latest["added"], latest["trigger"]) == ("succeeded", 1, "refresh")
    assert latest["duration_seconds"] is not None and latest["rejected_sample"] == []
    listed = ok(gurulu(system, workspace[1], f"destination list {aud}"))
    assert [r[0] for r in rows(listed)] == [dest, second["id"]] and "CRM" in listed
    table = ok(gurulu(system, workspace[1], f"destination syncs {aud} {dest}"))
    assert [r[2] for r in rows(table)] == ["succeeded", "succeeded"]
    as_json = json.loads(ok(gurulu(system, workspace[1], f"destination syncs {aud} {dest} --json")))
    assert as_json["data"][0]["sync_id"] == latest["sync_id"]
    newest = api.get(f"{base}/{dest}/syncs", params={"limit": 1}).json()
    assert [s["sync_id"] for s in newest["data"]] == [latest["sync_id"]] == [newest["next_before"]]
    older = api.get(f"{base}/{dest}/syncs", params={"limit": 1, "before": latest["sync_id"]})
    assert [s["sync_id"] for s in older.json()["data"]] == [first["sync_id"]]
    paged = ok(gurulu(system, workspace[1], f"destination syncs {aud} {dest} --limit 1"))
    assert f"Older syncs: gurulu destination syncs {aud} {dest} --before {latest['sync_id']}" in (
        paged.replace("\n", " ")
    )
    unknown = api.get(f"{base}/{dest}/syncs", params={"before": "syn_unknown"})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "before"
    assert SECRET not in listed + table + json.dumps(as_json)

    paused = ok(gurulu(system, workspace[1], f"destination pause {aud} {second['id']}"))
    assert "Paused" in paused and api.get(f"{base}/{second['id']}").json()["status"] == "paused"
    removed = ok(gurulu(system, workspace[1], f"destination remove {aud} {second['id']}"))
    assert f"Removed destination {second['id']}" in removed
    assert [d["id"] for d in api.get(base).json()["data"]] == [dest]
    gone = gurulu(system, workspace[1], f"destination remove {aud} {second['id']}")
    assert gone.returncode != 0 and "no destination" in gone.stderr + gone.stdout


def _finished(api, base: str, dest: str, count: int):  # type: ignore[no-untyped-def]
    syncs = api.get(f"{base}/{dest}/syncs").json()["data"]
    done = [s for s in syncs if s["status"] in ("succeeded", "partial", "failed")]
    return done if len(done) >= count else None
