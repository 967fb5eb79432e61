"""The refresh: exact membership, joined_at, and an exactly-once effect under replays and
crashes between any two of its writes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from gurulu.api import cohorts as cohort_cases
from gurulu.common.clickhouse import ClickHouse
from gurulu.common.store import audiences, changes, runs
from gurulu.evaluator.refresh import refresh
from tests.support import NOW, ago, audience, cohort, events, matching, members, request, workspace

STEPS = ("running", "changes", "staged", "members", "succeeded")


class Crash(Exception):
    pass


def crash_at(step: str):
    def checkpoint(reached: str) -> None:
        if reached == step:
            raise Crash(step)

    return checkpoint


def clock_at(at: datetime):
    return lambda: at


@pytest.fixture
def shop(db: ClickHouse):
    ws = workspace(db)
    events(
        db,
        ws,
        ("ana", "add_to_cart", ago(days=1)),
        ("bob", "add_to_cart", ago(days=2)),
        ("cem", "add_to_cart", ago(days=6, hours=23, minutes=30)),
        ("dan", "purchase", ago(days=1)),
    )
    source = cohort(db, ws, "carted", "event:add_to_cart in last 7d")
    return ws, source, audience(db, ws, source)


def run_at(db, aud, at, **kwargs):
    run = request(db, aud, at=at)
    return refresh(db, aud.workspace_id, aud.audience_id, run.run_id, clock=clock_at(at), **kwargs)


def test_first_refresh_makes_the_members_exactly_the_matching_people(db, shop):
    ws, source, aud = shop
    done = run_at(db, aud, NOW)
    assert done.status == "succeeded"
    assert set(members(db, aud)) == {"ana", "bob", "cem"}
    assert (done.joined_count, done.left_count, done.member_count) == (3, 0, 3)
    assert all(joined == NOW for joined in members(db, aud).values())
    assert done.rows_read > 0


def test_people_join_and_leave_as_time_and_events_move(db, shop):
    ws, source, aud = shop
    run_at(db, aud, NOW)
    events(db, ws, ("dan", "add_to_cart", NOW + timedelta(minutes=5)))
    later = NOW + timedelta(hours=1)
    done = run_at(db, aud, later)
    # cem's add_to_cart fell out of the 7-day window; dan's new one came in.
    assert set(members(db, aud)) == {"ana", "bob", "dan"}
    assert (done.joined_count, done.left_count, done.member_count) == (1, 1, 3)
    joined = members(db, aud)
    assert joined["ana"] == NOW and joined["dan"] == later


def test_member_who_leaves_and_returns_gets_a_new_joined_at(db, shop):
    ws, source, aud = shop
    run_at(db, aud, NOW)
    t1 = NOW + timedelta(hours=1)
    run_at(db, aud, t1)
    assert "cem" not in members(db, aud)
    events(db, ws, ("cem", "add_to_cart", t1 + timedelta(minutes=1)))
    t2 = NOW + timedelta(hours=2)
    run_at(db, aud, t2)
    assert members(db, aud)["cem"] == t2
    assert members(db, aud)["ana"] == NOW


def test_member_count_is_the_true_count_after_every_refresh(db, shop):
    ws, source, aud = shop
    for hour in range(10):
        at = NOW + timedelta(hours=hour)
        events(db, ws, (f"p{hour}", "add_to_cart", at - timedelta(minutes=1)))
        done = run_at(db, aud, at)
        assert done.member_count == len(members(db, aud))
        assert set(members(db, aud)) == matching(db, ws, "event:add_to_cart in last 7d", at=at)


def test_a_refresh_where_nobody_joins_or_leaves_records_zero_counts_and_keeps_members(db, shop):
    ws, source, aud = shop
    run_at(db, aud, NOW)
    before = members(db, aud)
    quiet = run_at(db, aud, NOW + timedelta(minutes=1))
    assert quiet.status == "succeeded" and quiet.staged
    assert (quiet.joined_count, quiet.left_count, quiet.member_count) == (0, 0, 3)
    assert members(db, aud) == before
    events(db, ws, ("dan", "add_to_cart", NOW + timedelta(minutes=2)))
    moved = run_at(db, aud, NOW + timedelta(minutes=3))
    assert (moved.joined_count, moved.left_count, moved.member_count) == (1, 0, 4)


def test_running_the_same_run_again_changes_nothing(db, shop):
    ws, source, aud = shop
    run = request(db, aud)
    first = refresh(db, ws, aud.audience_id, run.run_id, clock=clock_at(NOW))
    before = members(db, aud)
    events(db, ws, ("dan", "add_to_cart", NOW))
    again = refresh(db, ws, aud.audience_id, run.run_id, clock=clock_at(NOW + timedelta(hours=1)))
    assert again == first
    assert members(db, aud) == before


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_after_any_write_then_a_rerun_equals_one_clean_run(db, step):
    def scenario(database: ClickHouse, crash: str | None):
        ws = workspace(database)
        events(database, ws, ("ana", "add_to_cart", ago(days=1)), ("bob", "x", ago(days=1)))
        source = cohort(database, ws, "carted", "event:add_to_cart in last 7d")
        aud = audience(database, ws, source)
        run_at(database, aud, NOW)
        events(database, ws, ("bob", "add_to_cart", NOW), ("ana", "add_to_cart", ago(days=8)))
        database.command(
            "ALTER TABLE events DELETE WHERE workspace_id = {ws:String} AND person_id = 'ana'"
            " AND timestamp > {t:DateTime64(3, 'UTC')}",
            {"ws": ws, "t": ago(days=3)},
        )
        run = request(database, aud)
        later = NOW + timedelta(hours=1)
        if crash:
            with pytest.raises(Crash):
                refresh(
                    database,
                    ws,
                    aud.audience_id,
                    run.run_id,
                    clock=clock_at(later),
                    checkpoint=crash_at(crash),
                )
        done = refresh(database, ws, aud.audience_id, run.run_id, clock=clock_at(later))
        return done, members(database, aud)

    clean_run, clean_members = scenario(db, None)
    crashed_run, crashed_members = scenario(db, step)
    assert crashed_members == clean_members == {"bob": NOW + timedelta(hours=1)}
    assert crashed_run.status == "succeeded"
    counts = lambda r: (r.joined_count, r.left_count, r.member_count)  # noqa: E731
    assert counts(crashed_run) == counts(clean_run) == (1, 1, 1)


@pytest.mark.parametrize("step", ("members", "succeeded"))
def test_the_next_run_completes_a_staged_run_that_crashed_before_finishing(db, shop, step):
    ws, source, aud = shop
    run = request(db, aud)
    with pytest.raises(Crash):
        refresh(db, ws, aud.audience_id, run.run_id, clock=clock_at(NOW), checkpoint=crash_at(step))
    later = NOW + timedelta(hours=1)
    nxt = run_at(db, aud, later)
    first = runs.get(db, ws, aud.audience_id, run.run_id)
    assert first.status == "succeeded" and first.joined_count == 3
    assert (nxt.joined_count, nxt.left_count, nxt.member_count) == (0, 1, 2)
    assert set(members(db, aud)) == {"ana", "bob"}


def test_an_edited_definition_reconciles_fully_at_the_next_refresh(db, shop):
    ws, source, aud = shop
    run_at(db, aud, NOW)
    cohort_cases.redefine(db, ws, source.cohort_id, rules=["event:purchase in last 7d"])
    done = run_at(db, aud, NOW + timedelta(minutes=1))
    assert set(members(db, aud)) == {"dan"}
    assert (done.joined_count, done.left_count, done.member_count) == (1, 3, 1)


def test_a_refresh_of_an_audience_whose_cohort_is_gone_fails_with_a_reason(db, shop):
    ws, source, aud = shop
    db.command(
        "INSERT INTO cohorts (workspace_id, cohort_id, name, definition, count, computed_at,"
        " created_at, updated_at, version, is_deleted) SELECT workspace_id, cohort_id, name,"
        " definition, count, computed_at, created_at, updated_at, version + 1, 1"
        " FROM cohorts FINAL WHERE workspace_id = {ws:String}",
        {"ws": ws},
    )
    done = run_at(db, aud, NOW)
    assert done.status == "failed"
    assert "source cohort" in done.error
    assert members(db, aud) == {}


@pytest.mark.parametrize("status", ["paused", "archived"])
def test_a_refresh_asked_for_before_its_audience_stopped_fails_and_changes_nothing(
    db, shop, status
):
    ws, _, aud = shop
    first = run_at(db, aud, NOW)
    before = members(db, aud)
    owed = request(db, aud, at=NOW + timedelta(hours=1))
    audiences.save(db, replace(aud, status=status))  # paused or archived while it waited
    events(db, ws, ("eve", "add_to_cart", NOW))
    done = refresh(db, ws, aud.audience_id, owed.run_id, clock=clock_at(NOW + timedelta(hours=1)))
    assert (done.status, done.error) == (
        "failed",
        f"the audience was {status} before this refresh ran",
    )
    assert members(db, aud) == before and first.member_count == len(before)


def test_a_delta_abandoned_before_it_was_committed_is_never_applied(db):
    ws = workspace(db)
    events(db, ws, ("ana", "add_to_cart", ago(days=6, hours=23, minutes=30)))
    events(db, ws, ("bob", "add_to_cart", ago(days=1)))
    aud = audience(db, ws, cohort(db, ws, "carted", "event:add_to_cart in last 7d"))
    run = request(db, aud)
    with pytest.raises(Crash):
        refresh(
            db, ws, aud.audience_id, run.run_id, clock=clock_at(NOW), checkpoint=crash_at("changes")
        )
    events(db, ws, ("cem", "add_to_cart", NOW))
    later = NOW + timedelta(hours=1)
    done = refresh(db, ws, aud.audience_id, run.run_id, clock=clock_at(later))
    assert members(db, aud) == {"bob": later, "cem": later}
    assert (done.joined_count, done.left_count, done.member_count, done.attempt) == (2, 0, 2, 2)


def test_rows_staged_late_by_an_attempt_that_was_taken_over_never_join_the_run(db, shop):
    # Evaluator A records its attempt and stalls with its staging statement still running;
    # B takes the run over and finishes it; then A's statement lands its rows.
    ws, source, aud = shop
    run = request(db, aud)
    with pytest.raises(Crash):
        refresh(
            db, ws, aud.audience_id, run.run_id, clock=clock_at(NOW), checkpoint=crash_at("running")
        )
    done = refresh(db, ws, aud.audience_id, run.run_id, clock=clock_at(NOW))
    db.insert(
        "audience_changes",
        [(ws, aud.audience_id, run.run_id, 1, "ghost", "joined", NOW)],
        ("workspace_id", "audience_id", "run_id", "attempt", "person_id", "change", "at"),
    )
    assert done.attempt == 2
    again = refresh(db, ws, aud.audience_id, run.run_id, clock=clock_at(NOW + timedelta(hours=1)))
    assert again == done
    assert set(members(db, aud)) == {"ana", "bob", "cem"}
    assert {c.person_id for c in changes.recent_changes(db, ws, aud.audience_id)} == {
        "ana",
        "bob",
        "cem",
    }
