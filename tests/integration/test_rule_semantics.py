"""Every form of the rule language, evaluated by ClickHouse over real events and people."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gurulu.api import cohorts as cohort_cases
from gurulu.common.clickhouse import ClickHouse
from gurulu.common.errors import InvalidRequest
from gurulu.common.rules.compiler import MAX_DEPTH, MAX_EXPANDED_RULES
from gurulu.common.store import cohorts as cohort_store
from gurulu.evaluator.refresh import refresh
from tests.support import (
    NOW,
    ago,
    audience,
    cohort,
    events,
    matching,
    persons,
    request,
    workspace,
)


@pytest.fixture
def shop(db: ClickHouse) -> str:
    """ana carts today and checks out; bob carts 8 days ago; cem buys 3×, 5 days apart;
    dan only has a person record; eve is anonymous with a login yesterday."""
    ws = workspace(db)
    events(
        db,
        ws,
        ("ana", "add_to_cart", ago(hours=2)),
        ("ana", "checkout_started", ago(hours=1)),
        ("bob", "add_to_cart", ago(days=8)),
        ("cem", "purchase", ago(days=1), {"amount": 150, "currency": "USD"}),
        ("cem", "purchase", ago(days=6), {"amount": 40, "currency": "EUR"}),
        ("cem", "purchase", ago(days=11), {"amount": "99.5", "currency": "USD"}),
        ("eve", "login", ago(days=1)),
    )
    persons(
        db,
        ws,
        ana={"subscription_status": "active", "company_domain": "acme.com", "age": 34},
        bob={"subscription_status": "cancelled", "company_domain": "globex.com", "age": "9"},
        dan={"subscription_status": "active", "email": "dan@example.com"},
    )
    return ws


def test_event_in_window_matches_people_who_did_it_within_the_window(db, shop):
    assert matching(db, shop, "event:add_to_cart in last 7d") == {"ana"}
    assert matching(db, shop, "event:add_to_cart in last 9d") == {"ana", "bob"}


def test_rules_are_anded_by_default(db, shop):
    rules = ("event:add_to_cart in last 7d", "event:checkout_started in last 7d")
    assert matching(db, shop, *rules) == {"ana"}
    assert matching(db, shop, "event:add_to_cart in last 9d", "person:age > 20") == {"ana"}


def test_match_any_is_an_or(db, shop):
    rules = ("event:add_to_cart in last 9d", "event:login in last 7d")
    assert matching(db, shop, *rules, match="any") == {"ana", "bob", "eve"}


def test_window_edges_are_inclusive_and_end_at_the_evaluation_time(db):
    ws = workspace(db)
    events(
        db,
        ws,
        ("edge", "visit", ago(days=7)),
        ("outside", "visit", ago(days=7, microseconds=1000)),
        ("future", "visit", NOW + timedelta(milliseconds=1)),
        ("now", "visit", NOW),
    )
    assert matching(db, ws, "event:visit in last 7d") == {"edge", "now"}
    assert matching(db, ws, "event:visit") == {"edge", "outside", "now"}


def test_every_window_unit_is_understood(db):
    ws = workspace(db)
    events(db, ws, ("m", "x", ago(minutes=10)), ("h", "x", ago(hours=5)), ("d", "x", ago(days=3)))
    events(db, ws, ("w", "x", ago(days=12)))
    assert matching(db, ws, "event:x in last 15m") == {"m"}
    assert matching(db, ws, "event:x in last 6h") == {"m", "h"}
    assert matching(db, ws, "event:x in last 4d") == {"m", "h", "d"}
    assert matching(db, ws, "event:x in last 2w") == {"m", "h", "d", "w"}


def test_event_without_window_means_ever(db, shop):
    assert matching(db, shop, "event:purchase") == {"cem"}


def test_count_comparisons(db, shop):
    assert matching(db, shop, "event:purchase count >= 3") == {"cem"}
    assert matching(db, shop, "event:purchase count >= 3 in last 10d") == set()
    assert matching(db, shop, "event:purchase count = 2 in last 10d") == {"cem"}
    assert matching(db, shop, "event:purchase count > 1 in last 10d") == {"cem"}


def test_a_count_that_zero_satisfies_includes_people_without_the_event(db, shop):
    everyone = {"ana", "bob", "cem", "dan", "eve"}
    assert matching(db, shop, "event:purchase count < 2") == everyone - {"cem"}
    assert matching(db, shop, "event:purchase count <= 1 in last 10d") == everyone - {"cem"}
    assert matching(db, shop, "event:purchase count = 0") == everyone - {"cem"}
    assert matching(db, shop, "event:purchase count >= 0") == everyone
    assert matching(db, shop, "event:purchase count < 0") == set()


def test_not_event_is_evaluated_over_all_known_people_including_anonymous_and_eventless(db, shop):
    assert matching(db, shop, "not event:login in last 14d") == {"ana", "bob", "cem", "dan"}
    assert matching(db, shop, "not event:purchase") == {"ana", "bob", "dan", "eve"}


def test_anonymous_people_with_events_but_no_person_record_are_people(db, shop):
    assert matching(db, shop, "event:login in last 2d") == {"eve"}
    assert "eve" in matching(db, shop, "person:subscription_status != active")


def test_event_property_filters_apply_before_the_window(db, shop):
    assert matching(db, shop, "event:purchase where amount > 100 in last 30d") == {"cem"}
    assert matching(db, shop, "event:purchase where amount > 100 in last 5d") == {"cem"}
    assert matching(db, shop, "event:purchase where amount > 100 count >= 2") == set()
    assert matching(db, shop, "event:purchase where amount >= 40 count >= 3") == {"cem"}
    assert matching(db, shop, "event:purchase where currency = USD count = 2") == {"cem"}
    assert matching(db, shop, "event:purchase where currency = EUR and amount < 50") == {"cem"}
    assert matching(db, shop, "event:purchase where coupon is set") == set()
    assert matching(db, shop, "event:purchase where coupon is not set count = 3") == {"cem"}
    assert matching(db, shop, "event:purchase where currency != USD count = 1") == {"cem"}
    assert matching(db, shop, "event:purchase where currency contains us count = 2") == {"cem"}


def test_person_properties_compare_numerically_for_numbers_and_as_text_otherwise(db, shop):
    # bob's age is the text "9": numerically below 20, but as text "9" > "20".
    assert matching(db, shop, "person:age > 20") == {"ana"}
    assert matching(db, shop, "person:age < 20") == {"bob"}
    assert matching(db, shop, 'person:age > "20"') == {"ana", "bob"}
    assert matching(db, shop, "person:age >= 34") == {"ana"}
    assert matching(db, shop, "person:age <= 9") == {"bob"}
    assert matching(db, shop, "person:age = 34.0") == {"ana"}


def test_person_property_operators(db, shop):
    assert matching(db, shop, "person:subscription_status = active") == {"ana", "dan"}
    assert matching(db, shop, "person:company_domain = acme.com") == {"ana"}
    assert matching(db, shop, "person:company_domain contains GLOBEX") == {"bob"}
    assert matching(db, shop, "person:email is set") == {"dan"}
    assert matching(db, shop, "person:email is not set") == {"ana", "bob", "cem", "eve"}
    # != is the negation of =: people without the property are not equal to it.
    assert matching(db, shop, "person:subscription_status != active") == {"bob", "cem", "eve"}
    assert matching(db, shop, "not person:subscription_status = active") == {"bob", "cem", "eve"}


def test_contains_ignores_case_in_turkish_too(db):
    """İ, I, ı and i are one letter to `contains`: İZMİR is found by izmir and İzmir,
    ISPARTA by isparta and ısparta; other letters fold as usual (Ş, Ğ, Ö, Ü, Ç)."""
    ws = workspace(db)
    persons(db, ws, ayse={"şehir": "İZMİR"}, burak={"şehir": "Isparta"}, can={"şehir": "Bursa"})
    events(
        db,
        ws,
        ("ayse", "view", ago(hours=1), {"şehir": "İstanbul", "ürün": "ÇİĞ KÖFTE"}),
        ("burak", "view", ago(hours=1), {"şehir": "Muğla", "ürün": "Şalgam"}),
    )
    for needle in ("izmir", "İzmir", "IZMIR", "zmİ"):
        assert matching(db, ws, f"person:şehir contains {needle}") == {"ayse"}, needle
    for needle in ("isparta", "ısparta", "ISPARTA"):
        assert matching(db, ws, f"person:şehir contains {needle}") == {"burak"}, needle
    assert matching(db, ws, "event:view where şehir contains istanbul") == {"ayse"}
    assert matching(db, ws, "event:view where ürün contains çiğ") == {"ayse"}
    assert matching(db, ws, "event:view where ürün contains ŞALGAM") == {"burak"}
    assert matching(db, ws, "event:view where şehir contains muğla") == {"burak"}
    assert matching(db, ws, "person:şehir contains bursa") == {"can"}
    assert matching(db, ws, "person:şehir contains ankara") == set()


def test_person_properties_merge_and_the_latest_value_wins(db, shop):
    persons(db, shop, ana={"subscription_status": "cancelled"})
    assert matching(db, shop, "person:subscription_status = active") == {"dan"}
    assert matching(db, shop, "person:company_domain = acme.com") == {"ana"}
    persons(db, shop, dan={"email": None})
    assert matching(db, shop, "person:email is set") == set()


def test_cohort_rules_use_the_other_cohorts_current_definition(db, shop):
    cohort(db, shop, "high-intent", "event:add_to_cart in last 7d")
    assert matching(db, shop, "cohort:high-intent") == {"ana"}
    assert matching(db, shop, "not cohort:high-intent", "person:age is set") == {"bob"}


def test_the_page_recipes_are_expressible(db):
    ws = workspace(db)
    events(
        db,
        ws,
        *[("rfm", "purchase", ago(days=d)) for d in (2, 9, 20)],
        *[("old", "purchase", ago(days=d)) for d in (15, 20, 25)],
        ("sub", "login", ago(days=20)),
        ("sub2", "login", ago(days=2)),
        ("cart", "add_to_cart", ago(days=1)),
        ("buyer", "add_to_cart", ago(days=1)),
        ("buyer", "purchase", ago(hours=3)),
    )
    persons(
        db,
        ws,
        sub={"subscription_status": "active"},
        sub2={"subscription_status": "active"},
        b2b={"company_domain": "acme.com"},
    )
    rfm = ("event:purchase count >= 3 in last 30d", "event:purchase in last 14d")
    assert matching(db, ws, *rfm) == {"rfm"}
    churn = ("person:subscription_status = active", "not event:login in last 14d")
    assert matching(db, ws, *churn) == {"sub"}
    assert matching(db, ws, "person:company_domain = acme.com") == {"b2b"}
    abandon = ("event:add_to_cart in last 7d", "not event:purchase in last 7d")
    assert matching(db, ws, *abandon) == {"cart"}


def test_rules_in_json_mean_the_same_as_text(db, shop):
    as_json = {
        "type": "event",
        "event": "purchase",
        "where": [{"property": "amount", "op": ">", "value": 100}],
        "within": "30d",
    }
    assert matching(db, shop, as_json) == matching(
        db, shop, "event:purchase where amount > 100 in last 30d"
    )


def test_the_longest_window_is_a_century_and_a_longer_one_is_refused(db, shop):
    assert matching(db, shop, "event:purchase in last 36500d") == {"cem"}
    assert matching(db, shop, "event:purchase in last 5214w") == {"cem"}
    for too_long in (
        "event:purchase in last 99999w",
        {"type": "event", "event": "x", "within": "999999h"},
    ):
        with pytest.raises(InvalidRequest, match=r"at most 36500d|longest window, 36500d"):
            matching(db, shop, too_long)


def test_match_any_of_rules_nobody_can_meet_matches_nobody(db, shop):
    assert matching(db, shop, "event:purchase count < 0", match="any") == set()
    assert (
        matching(db, shop, "event:purchase count < 0", "event:login count < 0", match="any")
        == set()
    )


def test_a_chain_of_cohorts_as_deep_as_allowed_saves_and_refreshes(db, shop):
    cohort(db, shop, "level-0", "event:add_to_cart in last 9d")
    for level in range(1, MAX_DEPTH + 1):
        deepest = cohort(db, shop, f"level-{level}", f"cohort:level-{level - 1}")
    with pytest.raises(InvalidRequest, match=f"nested more than {MAX_DEPTH} deep"):
        cohort(db, shop, "too-deep", f"cohort:level-{MAX_DEPTH}")

    run = request(db, aud := audience(db, shop, deepest))
    done = refresh(db, shop, aud.audience_id, run.run_id, clock=lambda: NOW)

    assert (done.status, done.member_count) == ("succeeded", 2)
    assert cohort_cases.redefine(
        db, shop, deepest.cohort_id, rules=[f"cohort:level-{MAX_DEPTH - 1}"]
    )


def test_an_edit_that_would_nest_a_cohort_built_on_it_too_deep_is_refused(db, shop):
    base = cohort(db, shop, "level-0", "event:add_to_cart in last 9d")
    for level in range(1, MAX_DEPTH + 1):
        cohort(db, shop, f"level-{level}", f"cohort:level-{level - 1}")
    extra = cohort(db, shop, "extra", "event:login in last 7d")

    with pytest.raises(InvalidRequest, match=f"'level-{MAX_DEPTH}' is built on this one"):
        cohort_cases.redefine(db, shop, base.cohort_id, rules=["cohort:extra"])

    assert cohort_cases.get(db, shop, base.cohort_id).definition.rules[0].type == "event"
    assert cohort_cases.redefine(db, shop, extra.cohort_id, rules=["event:login in last 8d"])


def _fan_out(db, shop) -> None:  # type: ignore[no-untyped-def]
    """n1: one rule; n2 uses n1 ten times (20 rules with its own); n3 uses n2 ten times
    (210 rules, inside the limit)."""
    cohort(db, shop, "n1", "event:add_to_cart in last 9d")
    cohort(db, shop, "n2", *["cohort:n1"] * 10, match="any")
    cohort(db, shop, "n3", *["cohort:n2"] * 10, match="any")


def test_a_definition_whose_cohorts_multiply_past_the_rule_limit_is_refused_at_once(db, shop):
    _fan_out(db, shop)
    assert matching(db, shop, "cohort:n3") == {"ana", "bob"}
    read = []
    real_get = cohort_store.get

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        read.append(args[2])
        return real_get(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cohort_store, "get", counted)
        too_many = f"more than {MAX_EXPANDED_RULES} rules"
        with pytest.raises(InvalidRequest, match=too_many) as refused:
            cohort_cases.preview(db, shop, ["cohort:n3", "cohort:n3"], "all")
    assert refused.value.details["field"] == "rules"
    assert len(read) == len(set(read)) <= 3  # each cohort read once, not once per use
    with pytest.raises(InvalidRequest, match=f"more than {MAX_EXPANDED_RULES} rules"):
        cohort(db, shop, "n4", *["cohort:n3"] * 2)


def test_an_edit_that_would_multiply_a_cohort_built_on_it_past_the_limit_is_refused(db, shop):
    _fan_out(db, shop)
    n1 = cohort_cases.get(db, shop, "n1")
    run = request(db, aud := audience(db, shop, cohort_cases.get(db, shop, "n3")))
    done = refresh(db, shop, aud.audience_id, run.run_id, clock=lambda: NOW)
    assert done.status == "succeeded"
    with pytest.raises(InvalidRequest, match="'n3' is built on this one and would break"):
        cohort_cases.redefine(db, shop, n1.cohort_id, rules=["event:login in last 7d"] * 3)

    assert len(cohort_cases.get(db, shop, "n1").definition.rules) == 1
    run = request(db, aud)
    done = refresh(db, shop, aud.audience_id, run.run_id, clock=lambda: NOW)
    assert done.status == "succeeded"


def test_a_cycle_is_refused_and_named_by_the_cohorts_names(db, shop):
    first = cohort(db, shop, "first", "event:add_to_cart in last 9d")
    cohort(db, shop, "second", "cohort:first")

    with pytest.raises(InvalidRequest, match="first → second → first"):
        cohort_cases.redefine(db, shop, first.cohort_id, rules=["cohort:second"])


def test_a_preview_points_out_events_never_seen_with_the_closest_known_name(db, shop):
    rules = ["event:purchse in last 7d", "not event:login", "event:zzz_nothing", "person:age > 3"]
    notices = cohort_cases.preview(db, shop, rules, "any").notices
    assert notices == [
        {
            "rule": 0,
            "event": "purchse",
            "did_you_mean": "purchase",
            "message": "No 'purchse' event has been seen in this workspace yet;"
            " did you mean 'purchase'?",
        },
        {
            "rule": 2,
            "event": "zzz_nothing",
            "did_you_mean": None,
            "message": "No 'zzz_nothing' event has been seen in this workspace yet.",
        },
    ]
    assert cohort_cases.preview(db, shop, ["event:purchase"], "all").notices == []
