"""The store reads behind the web app's pages: recent joins and leaves (committed attempts
only), the one-query-per-kind reads of a whole workspace's audiences, the refresh interval
as the pages say it, and the read of a session's workspace that refuses one signed out of."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from gurulu.api.context import ApiContext
from gurulu.api.web import reads
from gurulu.api.web.destination_form import Connect
from gurulu.api.web.rendering import ENV
from gurulu.common.clock import utcnow
from gurulu.common.ids import new_id
from gurulu.common.settings import Settings
from gurulu.common.store import (
    changes,
    daily,
    destinations,
    runs,
    syncs,
    web_sessions,
    workspaces,
)
from gurulu.common.store.destinations import Destination
from gurulu.common.store.syncs import Sync
from gurulu.evaluator.refresh import refresh
from gurulu.snapshotter.daily import fold
from tests.support import NOW, ago, audience, cohort, events, request, workspace


def refresh_at(db, aud, at):
    run = request(db, aud, at=at)
    done = refresh(db, aud.workspace_id, aud.audience_id, run.run_id, clock=lambda: at)
    fold(db, aud.workspace_id, aud.audience_id, at.date())
    return done


def test_recent_changes_are_the_committed_joins_and_leaves_newest_first(db):
    ws = workspace(db)
    events(db, ws, ("ana", "visit", ago(hours=30)), ("bob", "visit", ago(hours=2)))
    aud = audience(db, ws, cohort(db, ws, "recent", "event:visit in last 2d"))
    first = refresh_at(db, aud, NOW)
    later = NOW + timedelta(hours=20)  # ana's visit is now out of the 2-day window
    second = refresh_at(db, aud, later)

    found = changes.recent_changes(db, ws, aud.audience_id, limit=10)
    assert [(c.person_id, c.change, c.run_id) for c in found] == [
        ("ana", "left", second.run_id),
        ("ana", "joined", first.run_id),
        ("bob", "joined", first.run_id),
    ]
    assert found[0].at == later


def test_a_crashed_attempts_staged_rows_are_not_recent_changes(db):
    ws = workspace(db)
    events(db, ws, ("ana", "visit", ago(hours=1)))
    aud = audience(db, ws, cohort(db, ws, "recent", "event:visit in last 1d"))
    done = refresh_at(db, aud, NOW)
    # Rows of an attempt the run never committed to, as a crash before step 3 leaves them.
    db.insert(
        "audience_changes",
        [(ws, aud.audience_id, done.run_id, done.attempt + 1, "ghost", "joined", NOW)],
        ("workspace_id", "audience_id", "run_id", "attempt", "person_id", "change", "at"),
    )
    found = changes.recent_changes(db, ws, aud.audience_id)
    assert [c.person_id for c in found] == ["ana"]


def test_recent_changes_keep_the_limit_for_each_kind_and_the_workspace(db):
    ws, other = workspace(db), workspace(db)
    events(db, ws, *[(f"p{n}", "visit", ago(hours=1)) for n in range(5)])
    aud = audience(db, ws, cohort(db, ws, "recent", "event:visit in last 1d"))
    refresh_at(db, aud, NOW)
    refresh_at(db, aud, NOW + timedelta(days=2))  # everyone left
    found = changes.recent_changes(db, ws, aud.audience_id, limit=2)
    assert sorted(c.change for c in found) == ["joined", "joined", "left", "left"]
    assert changes.recent_changes(db, other, aud.audience_id) == []


def test_workspace_reads_answer_every_audience_in_one_query_each(db):
    ws = workspace(db)
    events(db, ws, ("ana", "visit", ago(hours=1)))
    source = cohort(db, ws, "recent", "event:visit in last 1d")
    one, two = audience(db, ws, source, "one"), audience(db, ws, source, "two")
    refresh_at(db, one, NOW - timedelta(days=1))
    refresh_at(db, one, NOW)
    queued = request(db, two, at=NOW)

    newest = runs.latest_by_audience(db, ws)
    assert newest[two.audience_id].run_id == queued.run_id
    assert newest[two.audience_id].status == "queued"
    assert newest[one.audience_id].status == "succeeded"
    trends = daily.rows_by_audience(db, ws, (NOW - timedelta(days=29)).date())
    assert [r.snapshot_date for r in trends[one.audience_id]] == [
        (NOW - timedelta(days=1)).date(),
        NOW.date(),
    ]
    assert two.audience_id not in trends
    assert runs.latest_by_audience(db, workspace(db)) == {}


def test_runs_by_request_put_the_latest_request_first_whatever_their_ids(db):
    ws = workspace(db)
    aud = audience(db, ws, cohort(db, ws, "all", "event:visit"))
    newer = request(db, aud, at=NOW - timedelta(hours=1))
    backfill = request(db, aud, at=NOW - timedelta(days=2))  # a larger id, an older request
    assert backfill.run_id > newer.run_id
    by_request = runs.recent(db, ws, aud.audience_id, 10)
    assert [r.run_id for r in by_request] == [newer.run_id, backfill.run_id]
    assert runs.latest_by_audience(db, ws)[aud.audience_id].run_id == newer.run_id


def test_runs_page_by_page_follow_one_order_without_gaps_or_repeats(db):
    ws = workspace(db)
    aud = audience(db, ws, cohort(db, ws, "all", "event:visit"))
    made = [request(db, aud, at=NOW - timedelta(hours=n % 4)) for n in range(7)]  # ties too
    pages, before = [], None
    while True:
        page = runs.recent(db, ws, aud.audience_id, 3, before)
        pages.append([r.run_id for r in page])
        if len(page) < 3:
            break
        before = page[-1]
    seen = [run_id for page in pages for run_id in page]
    assert seen == [r.run_id for r in runs.recent(db, ws, aud.audience_id, 100)]
    assert sorted(seen) == sorted(r.run_id for r in made) and [len(p) for p in pages] == [3, 3, 1]


def test_a_session_signed_out_of_no_longer_names_its_workspace(db):
    made, key = workspaces.create(db, "Shop", "custom")
    ws, key_id = made.workspace_id, workspaces.key_id_of(key)
    assert web_sessions.signed_in_workspace(db, ws, "kept", key_id).workspace_id == ws
    web_sessions.end(db, ws, "kept", utcnow() + timedelta(days=14))  # the table's TTL is real time

    assert web_sessions.signed_in_workspace(db, ws, "kept", key_id) is None
    assert web_sessions.signed_in_workspace(db, ws, "another", key_id).workspace_id == ws
    other, other_key = workspaces.create(db, "Other", "custom")
    other_id = workspaces.key_id_of(other_key)
    assert web_sessions.signed_in_workspace(db, other.workspace_id, "kept", other_id)
    assert web_sessions.signed_in_workspace(db, "ws_gone", "another", key_id) is None


def test_a_session_ends_when_the_key_it_signed_in_with_is_revoked(db):
    made, first = workspaces.create(db, "Shop", "custom")
    ws, (second, _) = made.workspace_id, workspaces.issue_key(db, made.workspace_id)
    by_first, by_second = workspaces.key_id_of(first), workspaces.key_id_of(second)
    assert [k.key_id for k in workspaces.keys(db, ws)] == [by_first, by_second]
    assert web_sessions.signed_in_workspace(db, ws, "s1", by_first) is not None

    assert workspaces.revoke_key(db, ws, by_first)
    assert web_sessions.signed_in_workspace(db, ws, "s1", by_first) is None
    assert web_sessions.signed_in_workspace(db, ws, "s2", by_second) is not None
    assert workspaces.authenticate(db, first) is None
    assert workspaces.authenticate(db, second).workspace_id == ws
    assert [k.key_id for k in workspaces.keys(db, ws)] == [by_second]
    # a key is revoked only by its own workspace
    other, _ = workspaces.create(db, "Other", "custom")
    assert not workspaces.revoke_key(db, other.workspace_id, by_second)
    assert workspaces.authenticate(db, second) is not None
    # nor may a session claim another workspace's key
    assert web_sessions.signed_in_workspace(db, other.workspace_id, "s3", by_second) is None


def test_the_pages_say_how_often_audiences_refresh_as_it_is_set(db, tmp_path):
    ws = workspace(db)
    aud = audience(db, ws, cohort(db, ws, "all", "event:visit"))
    settings = Settings(data_dir=tmp_path, tick_interval_seconds=15 * 60)
    ctx = ApiContext(settings, db, redis=None, broker=None)  # type: ignore[arg-type]
    listed = asyncio.run(reads.audience_list(ctx, ws))
    detail = asyncio.run(reads.audience_detail(ctx, ws, aud.audience_id))
    common = {"csrf_token": "t", "flash": None, "signed_in": True, "now": NOW, "workspace": None}

    listing = ENV.get_template("audiences.html").render(
        common, path="/app/audiences", listed=listed, form={}, form_error=None, form_field=None
    )
    page = ENV.get_template("audience.html").render(
        common, path="/app/audiences/x", detail=detail, connect=Connect()
    )
    assert "refreshed every 15 minutes" in listing
    # "Refreshes", not "Sync": a sync is what sends an audience to its destinations
    assert '<label for="sync">Refreshes</label>' in listing
    assert '<option value="hourly" selected>Every 15 minutes</option>' in listing
    assert "refreshes every 15 minutes" in page
    assert "every hour" not in (listing + page).lower()


def test_the_audience_list_flags_destinations_that_are_paused_or_failing(db, tmp_path):
    ws = workspace(db)
    quiet, troubled = (audience(db, ws, cohort(db, ws, name, "event:visit")) for name in "qt")

    def connect(aud, name: str, status: str = "active") -> Destination:
        made = Destination(
            ws, new_id("dst"), aud.audience_id, "webhook", name, "mirror", status, NOW, NOW
        )
        destinations.save(db, made)
        return made

    def synced(dest: Destination, status: str, minutes: int) -> None:
        at = NOW + timedelta(minutes=minutes)
        sync = Sync(ws, dest.audience_id, dest.destination_id, new_id("syn"), "run", "refresh",
                    status, at)  # fmt: skip
        syncs.save(db, sync)

    ok = connect(quiet, "fine")
    synced(ok, "failed", 1)
    synced(ok, "succeeded", 2)  # failed, then recovered
    broken, later = connect(troubled, "broken"), connect(troubled, "recovering")
    synced(broken, "succeeded", 1)
    synced(broken, "failed", 2)
    synced(later, "failed", 1)
    synced(later, "running", 2)  # a retry under way: its last finished sync still failed
    connect(troubled, "held", status="paused")
    gone = connect(quiet, "removed", status="paused")
    destinations.delete(db, gone)

    assert destinations.needing_attention(db, ws) == {troubled.audience_id: (1, 2)}
    ctx = ApiContext(Settings(data_dir=tmp_path), db, redis=None, broker=None)  # type: ignore[arg-type]
    listed = asyncio.run(reads.audience_list(ctx, ws))
    common = {"csrf_token": "t", "flash": None, "signed_in": True, "now": NOW, "workspace": None}
    listing = ENV.get_template("partials/audience_rows.html").render(common, listed=listed)
    assert "2 destinations failing" in listing and "1 destination paused" in listing
    assert listing.count("#destinations") == 2  # both on the troubled audience's row
