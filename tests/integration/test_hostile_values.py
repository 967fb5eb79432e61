"""Hostile values in rules match literally and never change the query: every value, key
and name reaches ClickHouse as a bound parameter."""

from __future__ import annotations

import pytest

from gurulu.common import evaluate
from gurulu.common.errors import InvalidRequest
from gurulu.common.rules.model import MAX_NAME_LENGTH
from gurulu.common.rules.parser import parse_definition
from gurulu.common.rules.text import to_text
from tests.support import NOW, ago, events, matching, persons, workspace

HOSTILE = [
    "'; DROP TABLE events; --",
    "') OR 1=1 OR ('",
    '" OR ""="',
    "back\\slash\\",
    "\\'",
    "{p0:String}",
    "x' UNION ALL SELECT person_id FROM people --",
    "İstanbul ışık ŞŞ çğü 🎯",
    "%_*?[]",
    "a" * 9_000,
]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_person_property_value_matches_only_itself(db, value):
    ws = workspace(db)
    persons(db, ws, exact={"company": value}, near={"company": value + " "}, other={"company": "x"})
    rule = {"type": "person", "property": "company", "op": "=", "value": value}
    assert matching(db, ws, rule) == {"exact"}
    assert matching(db, ws, to_text(parse_definition([rule]).rules[0])) == {"exact"}
    assert matching(db, ws, {**rule, "op": "!="}) == {"near", "other"}


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_event_names_keys_and_values_match_literally(db, value):
    ws = workspace(db)
    name = value[:MAX_NAME_LENGTH]  # names and keys are shorter than values
    events(db, ws, ("exact", name, ago(hours=1), {name: value}), ("other", "visit", ago(hours=1)))
    named = {"type": "event", "event": name, "within": "1d"}
    assert matching(db, ws, named) == {"exact"}
    where = [{"property": name, "op": "=", "value": value}]
    filtered = {"type": "event", "event": name, "where": where}
    assert matching(db, ws, filtered) == {"exact"}
    assert matching(db, ws, to_text(parse_definition([filtered]).rules[0])) == {"exact"}
    assert matching(db, ws, {**named, "negate": True}) == {"other"}


def test_names_and_values_over_the_limits_are_refused_with_a_reason(db):
    ws = workspace(db)
    with pytest.raises(InvalidRequest, match="longer than 200"):
        matching(db, ws, {"type": "event", "event": "e" * 201})
    with pytest.raises(InvalidRequest, match="longer than 10000"):
        matching(db, ws, {"type": "person", "property": "p", "op": "=", "value": "v" * 10_001})


def test_the_sql_depends_only_on_the_shape_of_the_definition(db):
    ws = workspace(db)

    def sql(value: str) -> str:
        definition = parse_definition(
            [
                {
                    "type": "event",
                    "event": value[:MAX_NAME_LENGTH],
                    "where": [{"property": value[:MAX_NAME_LENGTH], "op": "=", "value": value}],
                },
                {"type": "person", "property": "p", "op": "contains", "value": value},
            ]
        )
        return evaluate.query_for(db, ws, definition, NOW).sql

    plain = sql("plain")
    for value in HOSTILE:
        assert sql(value) == plain
