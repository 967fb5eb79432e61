"""The demo data set on the real chDB: reproducible, every recipe of the product page matching
some people but not everyone, anonymous visitors, and an event volume a demo can show."""

from __future__ import annotations

from datetime import timedelta

from gurulu.cli import demo
from gurulu.common.clickhouse import ClickHouse
from tests.support import NOW, workspace

PEOPLE = 3000


def _scalar(db: ClickHouse, sql: str, ws: str) -> int:
    return int(db.scalar(sql, {"ws": ws}))


def test_the_same_seed_loads_the_same_data_and_the_same_recipe_counts(db: ClickHouse) -> None:
    first, second = workspace(db), workspace(db)

    one = demo.load(db, first, NOW, seed=11, people=800)
    two = demo.load(db, second, NOW, seed=11, people=800)

    assert one == two
    counts = [c.count for c in demo.define_recipes(db, first, NOW)]
    assert counts == [c.count for c in demo.define_recipes(db, second, NOW)]


def test_another_seed_loads_different_data(db: ClickHouse) -> None:
    assert demo.load(db, workspace(db), NOW, seed=1, people=800) != demo.load(
        db, workspace(db), NOW, seed=2, people=800
    )


def test_every_recipe_matches_some_people_but_not_everyone(db: ClickHouse) -> None:
    ws = workspace(db)
    summary = demo.load(db, ws, NOW)

    cohorts = demo.define_recipes(db, ws, NOW)

    assert [c.name for c in cohorts] == [name for name, *_ in demo.RECIPES]
    for cohort in cohorts:
        assert 10 <= cohort.count < summary.persons / 5, (cohort.name, cohort.count)


def test_recipes_spell_the_product_pages_rules_and_name_their_audiences() -> None:
    recipes = {name: (rules, match, audience) for name, rules, match, audience in demo.RECIPES}

    assert recipes["high-intent"] == (
        ["event:add_to_cart in last 7d", "event:checkout_started in last 7d"],
        "all",
        "Yüksek niyetli ziyaretçiler",
    )
    assert len(recipes) == 5
    assert all(audience for _rules, _match, audience in recipes.values())


def test_anonymous_visitors_have_events_but_no_person_record(db: ClickHouse) -> None:
    ws = workspace(db)
    summary = demo.load(db, ws, NOW)

    anonymous = _scalar(
        db,
        "SELECT uniqExact(person_id) FROM events"
        " WHERE workspace_id = {ws:String} AND startsWith(person_id, 'anon_')",
        ws,
    )
    with_record = _scalar(
        db,
        "SELECT uniqExact(person_id) FROM person_properties"
        " WHERE workspace_id = {ws:String} AND startsWith(person_id, 'anon_')",
        ws,
    )
    recorded = _scalar(
        db,
        "SELECT uniqExact(person_id) FROM person_properties WHERE workspace_id = {ws:String}",
        ws,
    )

    assert anonymous == summary.anonymous
    assert PEOPLE * 0.1 < anonymous < PEOPLE * 0.2
    assert with_record == 0
    assert recorded == summary.persons == PEOPLE


def test_a_few_thousand_people_make_tens_of_thousands_of_events_over_sixty_days(
    db: ClickHouse,
) -> None:
    ws = workspace(db)
    summary = demo.load(db, ws, NOW)

    row = db.rows(
        "SELECT count(), min(timestamp), max(timestamp), countIf(event = 'page_view')"
        " FROM events WHERE workspace_id = {ws:String}",
        {"ws": ws},
    )[0]
    total, earliest, latest, page_views = row

    assert total == summary.events
    assert 50_000 <= total <= 150_000
    assert NOW - timedelta(days=60) <= earliest and latest <= NOW
    assert page_views > total / 3
    assert summary.by_event["add_to_cart"] > 2 * summary.by_event["purchase"] > 0


def test_contact_data_is_untidy_the_way_imports_are(db: ClickHouse) -> None:
    ws = workspace(db)
    demo.load(db, ws, NOW)

    rows = db.rows(
        "SELECT key, value FROM person_properties"
        " WHERE workspace_id = {ws:String} AND key IN ('email', 'phone')",
        {"ws": ws},
    )
    emails = [value for key, value in rows if key == "email"]
    phones = [value for key, value in rows if key == "phone"]

    assert PEOPLE * 0.7 < len(emails) < PEOPLE
    assert any(e != e.strip() for e in emails)
    assert any(e != e.lower() for e in emails)
    assert any(p.startswith("+") for p in phones)
    assert any(" " in p and not p.startswith("+") for p in phones)
