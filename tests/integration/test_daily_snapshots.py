"""`audience_changes_daily`: one row per audience and day, folded from the day's runs."""

from __future__ import annotations

from datetime import timedelta

from gurulu.common.store import daily
from gurulu.evaluator.refresh import refresh
from gurulu.snapshotter.daily import fold
from tests.support import NOW, ago, audience, cohort, events, request, workspace


def refresh_at(db, aud, at):
    run = request(db, aud, at=at)
    done = refresh(db, aud.workspace_id, aud.audience_id, run.run_id, clock=lambda: at)
    fold(db, aud.workspace_id, aud.audience_id, at.date())
    return done


def test_a_day_sums_its_refreshes_and_keeps_the_last_member_count(db):
    ws = workspace(db)
    day = NOW.replace(hour=1)
    events(db, ws, *[(who, "visit", day - timedelta(hours=20)) for who in ("ana", "bob")])
    aud = audience(db, ws, cohort(db, ws, "recent", "event:visit in last 1d"))
    refresh_at(db, aud, day)  # ana, bob join
    events(db, ws, ("cem", "visit", day + timedelta(hours=1)))
    refresh_at(db, aud, day + timedelta(hours=2))  # cem joins
    refresh_at(db, aud, day + timedelta(hours=12))  # ana and bob left the 1-day window
    [row] = daily.rows(db, ws, aud.audience_id)
    assert row.snapshot_date == day.date()
    assert (row.member_count, row.joined_count, row.left_count, row.net_change) == (1, 3, 2, 1)


def test_each_day_gets_its_own_row_and_refolding_changes_nothing(db):
    ws = workspace(db)
    events(db, ws, ("ana", "visit", ago(hours=1)))
    aud = audience(db, ws, cohort(db, ws, "recent", "event:visit in last 1d"))
    refresh_at(db, aud, NOW)
    refresh_at(db, aud, NOW + timedelta(days=1))
    for _ in range(3):
        fold(db, ws, aud.audience_id, NOW.date())
        fold(db, ws, aud.audience_id, (NOW + timedelta(days=1)).date())
    rows = daily.rows(db, ws, aud.audience_id)
    assert [(r.snapshot_date, r.member_count, r.net_change) for r in rows] == [
        (NOW.date(), 1, 1),
        ((NOW + timedelta(days=1)).date(), 0, -1),
    ]


def test_a_fold_that_saw_fewer_runs_never_replaces_one_that_saw_more(db):
    ws = workspace(db)
    events(db, ws, ("ana", "visit", ago(hours=1)))
    aud = audience(db, ws, cohort(db, ws, "recent", "event:visit in last 1d"))
    refresh_at(db, aud, NOW)
    events(db, ws, ("bob", "visit", NOW))
    refresh_at(db, aud, NOW + timedelta(hours=1))
    # A stale fold, as if it had run between the two refreshes and landed last.
    db.command(
        "INSERT INTO audience_changes_daily SELECT workspace_id, audience_id, snapshot_date,"
        " 1, 1, 0, 1, updated_at, 1 FROM audience_changes_daily FINAL"
        " WHERE workspace_id = {ws:String}",
        {"ws": ws},
    )
    [row] = daily.rows(db, ws, aud.audience_id)
    assert (row.member_count, row.joined_count) == (2, 2)


def test_failed_runs_do_not_count(db):
    ws = workspace(db)
    aud = audience(db, ws, cohort(db, ws, "recent", "event:visit in last 1d"))
    run = request(db, aud)
    db.command(
        "INSERT INTO refresh_runs (workspace_id, audience_id, run_id, reason, status,"
        " requested_at, evaluated_at, joined_count, member_count, version)"
        " VALUES ({ws:String}, {aud:String}, {run:String}, 'manual', 'failed', {t:DateTime64(6)},"
        " {t:DateTime64(6)}, 5, 5, 99999999999999999)",
        {"ws": ws, "aud": aud.audience_id, "run": run.run_id, "t": NOW},
    )
    fold(db, ws, aud.audience_id, NOW.date())
    assert daily.rows(db, ws, aud.audience_id) == []
