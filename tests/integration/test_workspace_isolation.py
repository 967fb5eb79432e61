"""Every query is scoped to one workspace: the same names and ids in another workspace are
invisible, whatever the rule or the store."""

from __future__ import annotations

import pytest

from gurulu.api import cohorts as cohort_cases
from gurulu.common.errors import InvalidRequest, NotFound
from gurulu.common.store import audiences, cohorts, daily, runs
from gurulu.evaluator.refresh import refresh
from gurulu.snapshotter.daily import fold
from tests.support import (
    NOW,
    ago,
    audience,
    cohort,
    events,
    matching,
    members,
    persons,
    request,
    workspace,
)


@pytest.fixture
def two(db):
    """Workspaces `a` and `b` with the same people, events and cohort names; only `b`'s
    people did anything recently or have properties."""
    a, b = workspace(db), workspace(db)
    events(db, a, ("ana", "visit", ago(days=30)))
    events(db, b, ("ana", "visit", ago(hours=1)), ("bob", "visit", ago(hours=1)))
    events(db, b, ("bob", "login", ago(hours=1)), ("zed", "purchase", ago(days=2), {"x": "1"}))
    persons(db, b, ana={"plan": "pro"}, bob={"plan": "pro"}, yan={"plan": "free"})
    coh_a = cohort(db, a, "recent", "event:visit in last 7d")
    coh_b = cohort(db, b, "recent", "event:visit in last 7d")
    return a, b, coh_a, coh_b


def test_rules_see_only_their_workspaces_events_people_and_properties(db, two):
    a, b, _, _ = two
    assert matching(db, a, "event:visit in last 7d") == set()
    assert matching(db, a, "event:purchase where x = 1") == set()
    assert matching(db, a, "person:plan = pro") == set()
    assert matching(db, a, "person:plan is not set") == {"ana"}
    assert matching(db, a, "not event:login") == {"ana"}
    assert matching(db, b, "not event:login") == {"ana", "zed", "yan"}


def test_cohort_names_resolve_within_the_workspace(db, two):
    a, b, coh_a, coh_b = two
    assert matching(db, a, "cohort:recent") == set()
    assert matching(db, b, "cohort:recent") == {"ana", "bob"}
    assert matching(db, a, f"cohort:{coh_a.cohort_id}") == set()
    with pytest.raises(InvalidRequest):
        matching(db, a, f"cohort:{coh_b.cohort_id}")
    only_b = cohort(db, b, "only-b", "event:login")
    with pytest.raises(InvalidRequest, match="no cohort 'only-b'"):
        matching(db, a, "cohort:only-b")
    assert only_b.count == 1


def test_stores_answer_nothing_for_another_workspaces_ids(db, two):
    a, b, coh_a, coh_b = two
    aud_b = audience(db, b, coh_b)
    run_b = request(db, aud_b)
    refresh(db, b, aud_b.audience_id, run_b.run_id, clock=lambda: NOW)
    fold(db, b, aud_b.audience_id, NOW.date())
    assert cohorts.get(db, a, coh_b.cohort_id) is None
    assert cohorts.find(db, a, coh_b.cohort_id) is None
    assert [c.cohort_id for c in cohorts.list_all(db, a)] == [coh_a.cohort_id]
    assert audiences.get(db, a, aud_b.audience_id) is None
    assert audiences.list_all(db, a) == []
    assert audiences.count_active(db, a) == 0
    assert runs.get(db, a, aud_b.audience_id, run_b.run_id) is None
    assert runs.recent(db, a, aud_b.audience_id) == []
    assert daily.rows(db, a, aud_b.audience_id) == []
    with pytest.raises(NotFound):
        cohort_cases.get(db, a, coh_b.cohort_id)
    with pytest.raises(NotFound):
        refresh(db, a, aud_b.audience_id, run_b.run_id)
    assert set(members(db, aud_b)) == {"ana", "bob"}


def test_a_refresh_in_one_workspace_leaves_the_other_untouched(db, two):
    a, b, coh_a, coh_b = two
    aud_a, aud_b = audience(db, a, coh_a), audience(db, b, coh_b)
    for aud in (aud_a, aud_b):
        run = request(db, aud)
        refresh(db, aud.workspace_id, aud.audience_id, run.run_id, clock=lambda: NOW)
    assert members(db, aud_a) == {}
    assert set(members(db, aud_b)) == {"ana", "bob"}
