"""Behaviour of the rule language's parser, canonical text and errors.

The documented examples pin the grammar; the error table pins what a person sees for each
mistake (column, expected, found); the hostile-string tests pin that names and values are data
and never syntax; and a property test checks that `to_text` and `parse_rule` are inverses over
generated rules, including names and values that look like keywords, numbers or operators.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gurulu.common.rules.errors import RuleError, clip
from gurulu.common.rules.model import (
    MAX_FILTERS,
    MAX_NAME_LENGTH,
    MAX_RULES,
    MAX_VALUE_LENGTH,
    MAX_WINDOW_SECONDS,
    CohortRule,
    CountCondition,
    Definition,
    EventRule,
    PersonRule,
    PropertyFilter,
)
from gurulu.common.rules.parser import parse_definition, parse_rule
from gurulu.common.rules.text import definition_to_text, to_text


def where(*filters: tuple[Any, ...]) -> list[PropertyFilter]:
    return [
        PropertyFilter(property=f[0], op=f[1], value=f[2] if len(f) > 2 else None) for f in filters
    ]


def error_of(text: str, index: int | None = None) -> RuleError:
    with pytest.raises(RuleError) as caught:
        parse_rule(text, index)
    return caught.value


def same_rule(parsed: Any, expected: Any) -> None:
    """Equal models, and equal JSON so an int is not accepted where a float was meant."""
    assert parsed == expected
    assert parsed.model_dump_json() == expected.model_dump_json()


# --- the documented forms -------------------------------------------------------------------

DOCUMENTED = [
    ("event:add_to_cart in last 7d", EventRule(event="add_to_cart", within="7d")),
    (
        "event:purchase count >= 3 in last 30d",
        EventRule(event="purchase", count=CountCondition(op=">=", value=3), within="30d"),
    ),
    (
        "event:purchase where amount > 100 in last 30d",
        EventRule(event="purchase", where=where(("amount", ">", 100)), within="30d"),
    ),
    (
        "event:purchase where amount > 100 and currency = USD count >= 2 in last 30d",
        EventRule(
            event="purchase",
            where=where(("amount", ">", 100), ("currency", "=", "USD")),
            count=CountCondition(op=">=", value=2),
            within="30d",
        ),
    ),
    ("event:purchase", EventRule(event="purchase")),
    ("not event:login in last 14d", EventRule(event="login", negate=True, within="14d")),
    ("not event:purchase", EventRule(event="purchase", negate=True)),
    (
        "person:subscription_status = active",
        PersonRule(property="subscription_status", op="=", value="active"),
    ),
    (
        "person:company_domain = acme.com",
        PersonRule(property="company_domain", op="=", value="acme.com"),
    ),
    ("person:email is set", PersonRule(property="email", op="is set")),
    ("person:email is not set", PersonRule(property="email", op="is not set")),
    ("person:plan != free", PersonRule(property="plan", op="!=", value="free")),
    ('person:name contains "ali"', PersonRule(property="name", op="contains", value="ali")),
    ("cohort:high-intent", CohortRule(cohort="high-intent")),
    ("not cohort:high-intent", CohortRule(cohort="high-intent", negate=True)),
    ('cohort:"Yüksek niyetli ziyaretçiler"', CohortRule(cohort="Yüksek niyetli ziyaretçiler")),
    ('event:"Order Completed" in last 2w', EventRule(event="Order Completed", within="2w")),
    ("person:age >= 18", PersonRule(property="age", op=">=", value=18)),
    ("person:score < -1.5", PersonRule(property="score", op="<", value=-1.5)),
]


@pytest.mark.parametrize(("text", "expected"), DOCUMENTED, ids=[t for t, _ in DOCUMENTED])
def test_documented_example_parses_to_the_expected_rule(text: str, expected: Any) -> None:
    same_rule(parse_rule(text), expected)


@pytest.mark.parametrize(("text", "expected"), DOCUMENTED, ids=[t for t, _ in DOCUMENTED])
def test_documented_example_survives_canonical_text(text: str, expected: Any) -> None:
    same_rule(parse_rule(to_text(parse_rule(text))), expected)


@pytest.mark.parametrize("op", [">=", ">", "=", "<=", "<"])
def test_count_comparison_parses_operator_and_number(op: str) -> None:
    rule = parse_rule(f"event:purchase count {op} 3")
    assert rule.count == CountCondition(op=op, value=3)


def test_absent_count_means_at_least_once_and_is_stored_as_none() -> None:
    assert parse_rule("event:purchase in last 7d").count is None


def test_count_of_zero_is_accepted() -> None:
    assert parse_rule("event:purchase count = 0").count == CountCondition(op="=", value=0)


def test_count_and_where_may_come_in_either_order() -> None:
    a = parse_rule("event:purchase count >= 2 where amount > 100 in last 30d")
    b = parse_rule("event:purchase where amount > 100 count >= 2 in last 30d")
    assert a == b


def test_keywords_are_case_insensitive_but_names_keep_their_case() -> None:
    rule = parse_rule(
        "NOT Event:Purchase WHERE Amount > 1 AND Plan IS NOT SET Count >= 2 In LAST 7d"
    )
    assert rule == EventRule(
        event="Purchase",
        negate=True,
        where=where(("Amount", ">", 1), ("Plan", "is not set")),
        count=CountCondition(op=">=", value=2),
        within="7d",
    )


def test_whitespace_between_tokens_is_flexible() -> None:
    rule = parse_rule("  event:purchase\tcount>=3 \n in   last\t7d  ")
    assert rule == EventRule(event="purchase", count=CountCondition(op=">=", value=3), within="7d")


def test_key_ends_at_an_operator_character_so_spaces_are_optional() -> None:
    assert parse_rule("person:amount>100") == PersonRule(property="amount", op=">", value=100)
    assert parse_rule("event:x where amount>=100 and plan!=free").where == where(
        ("amount", ">=", 100), ("plan", "!=", "free")
    )


def test_unquoted_person_value_runs_to_the_end_of_the_rule_trimmed() -> None:
    rule = parse_rule("person:city =   New York  ")
    assert rule == PersonRule(property="city", op="=", value="New York")


def test_unquoted_person_value_may_contain_keywords_and_operators() -> None:
    rule = parse_rule("person:motto = not in last and a = b")
    assert rule.value == "not in last and a = b"


def test_unquoted_event_filter_value_is_a_single_token() -> None:
    rule = parse_rule("event:visit where city = Paris count >= 2")
    assert rule.where == where(("city", "=", "Paris"))
    assert rule.count == CountCondition(op=">=", value=2)


def test_every_property_operator_is_accepted_in_event_filters() -> None:
    ops = ["=", "!=", ">", ">=", "<", "<=", "contains"]
    for op in ops:
        assert parse_rule(f"event:x where p {op} v").where == where(("p", op, "v"))
    assert parse_rule("event:x where p is set").where == where(("p", "is set"))
    assert parse_rule("event:x where p is not set").where == where(("p", "is not set"))


def test_keywords_are_not_reserved_in_names_keys_or_values() -> None:
    rule = parse_rule("event:count where in = and and where is set count >= 1")
    assert rule == EventRule(
        event="count",
        where=where(("in", "=", "and"), ("where", "is set")),
        count=CountCondition(op=">=", value=1),
    )
    assert parse_rule("cohort:not") == CohortRule(cohort="not")
    assert parse_rule("person:is is set") == PersonRule(property="is", op="is set")


# --- value kinds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "value"),
    [("18", 18), ("-3", -3), ("0", 0), ("1.5", 1.5), ("-1.25", -1.25), ("007", 7)],
)
def test_bare_decimal_value_is_a_number_compared_numerically(written: str, value: Any) -> None:
    rule = parse_rule(f"person:x >= {written}")
    assert rule.value == value and type(rule.value) is type(value)
    assert rule.filter.numeric


@pytest.mark.parametrize("written", ['"02139"', "'02139'", '"-1.5"', '"18"'])
def test_quoted_number_stays_text(written: str) -> None:
    rule = parse_rule(f"person:zip = {written}")
    assert rule.value == written[1:-1] and isinstance(rule.value, str)


NUMBERS_IN_OTHER_SPELLINGS = ["1e5", "2.5E-3", "+3", ".5", "1.", "1_000", "1,000", "-1,250.5", "١٢"]


@pytest.mark.parametrize("written", NUMBERS_IN_OTHER_SPELLINGS)
@pytest.mark.parametrize("rule", ["person:x = {}", "person:x > {}", "event:e where x >= {}"])
def test_a_number_in_another_spelling_is_refused_at_its_column(written: str, rule: str) -> None:
    text = rule.format(written)
    error = error_of(text)
    assert error.column == text.index(written) + 1
    assert "plain digits" in str(error) and "quotes" in str(error)


@pytest.mark.parametrize("written", NUMBERS_IN_OTHER_SPELLINGS)
def test_the_same_spelling_quoted_or_as_a_contains_needle_is_text(written: str) -> None:
    assert parse_rule(f'person:x = "{written}"').value == written
    assert parse_rule(f"person:x contains {written}").value == written


@pytest.mark.parametrize("written", ["0x1F", "inf", "NaN", "1.2.3", "10.0.0.1", "3-4", "A1"])
def test_values_that_do_not_read_as_numbers_are_text(written: str) -> None:
    assert parse_rule(f"person:x = {written}").value == written


def test_contains_compares_as_text_even_with_a_bare_number() -> None:
    assert parse_rule("person:phone contains 555").value == "555"


def test_event_filter_values_follow_the_same_number_rule() -> None:
    rule = parse_rule('event:x where a = 5 and b = "5" and c = 5.0')
    assert [f.value for f in rule.where] == [5, "5", 5.0]
    assert [type(f.value) for f in rule.where] == [int, str, float]


# --- quoting and escapes --------------------------------------------------------------------


def test_double_quotes_escape_quote_and_backslash() -> None:
    rule = parse_rule(r'person:note = "say \"hi\" \\ bye"')
    assert rule.value == 'say "hi" \\ bye'


def test_single_quotes_escape_their_own_quote() -> None:
    rule = parse_rule(r"person:name = 'O\'Brien \\ co'")
    assert rule.value == "O'Brien \\ co"


def test_the_other_quote_needs_no_escape_inside_quotes() -> None:
    assert parse_rule("""person:a = 'say "hi"'""").value == 'say "hi"'
    assert parse_rule('''person:a = "it's"''').value == "it's"


def test_quoted_empty_string_is_an_empty_text_value() -> None:
    assert parse_rule('person:nickname = ""').value == ""


def test_quoted_key_may_contain_operators_and_spaces() -> None:
    rule = parse_rule('event:x where "a >= b" = 1')
    assert rule.where == where(("a >= b", "=", 1))
    assert parse_rule('person:"first name" = Ali').property == "first name"


def test_backslash_outside_quotes_is_literal() -> None:
    assert parse_rule(r"person:path = C:\temp\new").value == r"C:\temp\new"
    assert parse_rule(r"event:a\b").event == r"a\b"


def test_quoted_value_may_span_lines_because_values_allow_newlines() -> None:
    assert parse_rule('person:address = "1 Main St\nSpringfield"').value == "1 Main St\nSpringfield"


HOSTILE = [
    "'); DROP TABLE events; --",
    '"; DROP TABLE events; --',
    "1 OR 1=1",
    "x' UNION SELECT password FROM users --",
    "\\",
    "\\\\server\\share\\",
    'a\\"b',
    "{{ template }} ${env} $(rm -rf /) `id`",
    "İıŞşĞğÜüÖöÇç",
    "🛒🔥👩‍👩‍👧",
    "שלום عالم",
    "zero\u200bwidth",
    "%s %d %n",
    "\x1b[31mred",
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_string_is_parsed_literally_everywhere(hostile: str) -> None:
    rules = [
        EventRule(event=hostile, where=where((hostile, "=", hostile)), within="7d"),
        PersonRule(property=hostile, op="contains", value=hostile),
        PersonRule(property="p", op="=", value=hostile),
        CohortRule(cohort=hostile, negate=True),
    ]
    for rule in rules:
        same_rule(parse_rule(to_text(rule)), rule)


def test_hand_quoted_sql_injection_value_is_plain_text() -> None:
    rule = parse_rule(r"""person:name = "'); DROP TABLE events; --" """)
    assert rule.value == "'); DROP TABLE events; --"
    rule = parse_rule("""event:x where note = '\\'); DROP TABLE events; --'""")
    assert rule.where[0].value == "'); DROP TABLE events; --"


def test_unicode_names_and_values_need_no_quotes() -> None:
    rule = parse_rule("event:sepete_ekle🛒 where şehir = İstanbul")
    assert rule == EventRule(event="sepete_ekle🛒", where=where(("şehir", "=", "İstanbul")))
    assert to_text(rule) == "event:sepete_ekle🛒 where şehir = İstanbul"


def test_turkish_dotted_capital_i_is_not_read_as_a_keyword() -> None:
    # "İN" lowercases to "i̇n" in unicode; keywords are ASCII only, so this is an error.
    assert error_of("event:x İN last 7d").column == 9


def test_names_and_values_at_the_model_limits_are_accepted() -> None:
    name = "ş" * MAX_NAME_LENGTH
    value = '"\\' * (MAX_VALUE_LENGTH // 2)
    rule = PersonRule(property=name, op="=", value=value)
    same_rule(parse_rule(to_text(rule)), rule)
    same_rule(parse_rule(f"event:{name}"), EventRule(event=name))


# --- canonical text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        (PersonRule(property="city", op="=", value="New York"), "person:city = New York"),
        (PersonRule(property="zip", op="=", value="02139"), 'person:zip = "02139"'),
        (PersonRule(property="x", op="=", value="1e5"), 'person:x = "1e5"'),
        (PersonRule(property="x", op="=", value=""), 'person:x = ""'),
        (PersonRule(property="x", op="=", value=" padded "), 'person:x = " padded "'),
        (PersonRule(property="x", op="=", value=">5"), 'person:x = ">5"'),
        (PersonRule(property="x", op="=", value='say "hi"'), 'person:x = "say \\"hi\\""'),
        (PersonRule(property="x", op="=", value="a\tb"), 'person:x = "a\tb"'),
        (PersonRule(property="a=b", op="is set"), 'person:"a=b" is set'),
        (
            EventRule(event="x", where=where(("city", "=", "New York"))),
            'event:x where city = "New York"',
        ),
        (EventRule(event="Order Completed"), 'event:"Order Completed"'),
        (CohortRule(cohort="high-intent", cohort_id="c_123"), "cohort:high-intent"),
        (PersonRule(property="n", op="=", value=True), "person:n = true"),
        (PersonRule(property="n", op=">", value=1e20), "person:n > 100000000000000000000.0"),
        (PersonRule(property="n", op=">", value=1.5e-7), "person:n > 0.00000015"),
        (PersonRule(property="n", op=">", value=-0.0), "person:n > -0.0"),
        (PersonRule(property="n", op=">", value=2**53), "person:n > 9007199254740992"),
    ],
)
def test_canonical_text_quotes_only_where_needed(rule: Any, text: str) -> None:
    assert to_text(rule) == text


def test_canonical_event_text_orders_where_then_count_then_window() -> None:
    rule = parse_rule("event:purchase count > 1 where a = 1 in last 30d")
    assert to_text(rule) == "event:purchase where a = 1 count > 1 in last 30d"


def test_infinite_value_has_no_text_and_says_so() -> None:
    with pytest.raises(ValueError, match="finite"):
        to_text(PersonRule(property="x", op=">", value=math.inf))


def test_definition_to_text_renders_each_rule_in_order() -> None:
    defn = parse_definition(["event:a", {"type": "cohort", "cohort": "b c"}], match="any")
    assert definition_to_text(defn) == ["event:a", 'cohort:"b c"']


# --- errors ---------------------------------------------------------------------------------

ERRORS = [
    # text, column, expected (substring), found (None: the rule ended)
    ("evnt:x", 1, "one of event:, person:, cohort:", "evnt:x"),
    ("", 1, "one of event:, person:, cohort:", None),
    ("not", 4, "one of event:, person:, cohort:", None),
    ("not not event:x", 5, "one of event:, person:, cohort:", "not"),
    ("notevent:x", 1, "one of event:, person:, cohort:", "notevent:x"),
    ("event:", 7, "an event name", None),
    ("not event:", 11, "an event name", None),
    ("event: purchase", 7, "an event name directly after the colon", " "),
    ("person:", 8, "a property name", None),
    ("person:=5", 8, "a property name", "="),
    ("cohort:", 8, "a cohort name", None),
    ("event:x where", 14, "a property name", None),
    ("event:x where amount > 5 and", 29, "a property name", None),
    ("person:plan ~ free", 13, "an operator (= != > >= < <= contains, is set, is not set)", "~"),
    ("person:plan == free", 13, "an operator", "=="),
    ("event:x where amount => 5", 22, "an operator", "=>"),
    ("person:x is", 12, '"set" or "not set"', None),
    ("event:x where a is maybe", 20, '"set" or "not set"', "maybe"),
    ("person:x is not", 16, '"set" after "is not"', None),
    ("person:plan =", 14, "a value", None),
    ("event:x where a = =5", 19, "a value (quote a value that starts with = ! < or >)", "="),
    ("event:add_to_cart in last 7x", 27, "a duration like 7d (units m, h, d, w)", "7x"),
    ("event:x in last 0d", 17, "a window of at least 1 (1m, 1h, 1d or 1w)", "0d"),
    ("event:x in last 000h", 17, "a window of at least 1", "000h"),
    ("event:x in last 7", 17, "a duration like 7d", "7"),
    ("event:x in last 7D", 17, "a duration like 7d", "7D"),
    ("event:x in last 1000000d", 17, "a duration like 7d", "1000000d"),
    ("event:x in last 99999w", 17, "a window of at most 36500d", "99999w"),
    ("event:x in last 36501d", 17, "a window of at most 36500d", "36501d"),
    ("event:x in last", 16, "a duration like 7d", None),
    ("event:x in 7d", 12, '"last" after "in"', "7d"),
    ("event:x in last 7d count >= 2", 20, "end of rule (in last ... must come last)", "count"),
    ("event:x in last 7d where a = 1", 20, "end of rule (in last ... must come last)", "where"),
    (
        "event:x count >= 2 count > 3",
        20,
        "where, in last or end of rule (count may appear only once)",
        "count",
    ),
    ("event:x where a = 1 where b = 2", 21, "(where may appear only once)", "where"),
    ("event:x count 3", 15, "a count comparison (>= > = <= <)", "3"),
    ("event:x count != 3", 15, "a count comparison", "!="),
    ("event:x count >= many", 18, "a whole number", "many"),
    ("event:x count >= 1.5", 18, "a whole number", "1.5"),
    ("event:x count >= 2000000000", 18, "a count from 0 to 1000000000", "2000000000"),
    ("event:x foo", 9, "count, where, in last or end of rule", "foo"),
    ("event:x where a = 1 foo", 21, "and, count, in last or end of rule", "foo"),
    ("event:x count >= 2 foo", 20, "where, in last or end of rule", "foo"),
    ("cohort:a b", 10, "end of rule", "b"),
    ("person:email is set now", 21, "end of rule", "now"),
    ('person:name = "ali" x', 21, "end of rule", "x"),
    ('person:name = "ali', 15, 'a closing " for the quote opened here', '"ali'),
    ("person:name = 'ali", 15, "a closing ' for the quote opened here", "'ali"),
    ('event:"Order Completed in last 7d', 7, 'a closing "', '"Order Completed in last 7d'),
    ('person:x = "a\\nb"', 14, "\\\", \\' or \\\\ after a backslash", '\\nb"'),
    ("person:x = 1" + "0" * 400 + ".5", 12, "a smaller number (quote it", "1" + "0" * 38 + "…"),
]


@pytest.mark.parametrize(
    ("text", "column", "expected", "found"), ERRORS, ids=[e[0][:40] for e in ERRORS]
)
def test_malformed_rule_error_points_at_the_column_with_expected_and_found(
    text: str, column: int, expected: str, found: str | None
) -> None:
    error = error_of(text, index=3)
    assert (error.index, error.rule, error.column, error.found) == (
        3,
        clip(text, 120),
        column,
        found,
    )
    assert error.expected is not None and expected in error.expected
    assert str(error).startswith(f"rule 4 {json.dumps(clip(text, 120), ensure_ascii=False)}: ")
    if found is None:
        assert str(error).endswith("found end of rule")


def test_error_message_reads_as_one_sentence_with_one_based_rule_number() -> None:
    error = error_of("event:add_to_cart in last 7x", index=1)
    assert str(error) == (
        'rule 2 "event:add_to_cart in last 7x": at column 27, '
        'expected a duration like 7d (units m, h, d, w), found "7x"'
    )


def test_error_to_dict_drops_absent_facts() -> None:
    assert error_of("event:", index=0).to_dict() == {
        "index": 0,
        "rule": "event:",
        "column": 7,
        "expected": "an event name",
        "message": 'rule 1 "event:": at column 7, expected an event name, found end of rule',
    }


def test_rule_error_is_a_value_error() -> None:
    assert isinstance(error_of("nope"), ValueError)


def test_long_rule_text_is_truncated_in_the_error() -> None:
    error = error_of("event:x where a = 1 " + "x" * 500)
    assert len(error.rule) == 120 and error.rule.endswith("…")
    assert error.found is not None and len(error.found) <= 40


def test_name_over_the_model_limit_is_reported_at_the_name() -> None:
    error = error_of("event:" + "x" * (MAX_NAME_LENGTH + 1))
    assert error.column == 7
    assert "event is longer than 200 characters" in str(error)


def test_value_over_the_model_limit_is_reported_at_the_value() -> None:
    error = error_of('person:bio = "' + "x" * (MAX_VALUE_LENGTH + 1) + '"')
    assert error.column == 14
    assert "value is longer than 10000 characters" in str(error)


def test_blank_quoted_name_is_rejected_by_the_model() -> None:
    error = error_of('person:"   " = 1')
    assert error.column == 8 and "property must not be empty" in str(error)


def test_newline_in_a_quoted_name_is_rejected_by_the_model() -> None:
    error = error_of('cohort:"a\nb"')
    assert error.column == 8 and "control characters" in str(error)


def test_too_many_filters_is_reported_at_the_extra_and() -> None:
    text = "event:x where " + " and ".join(f"p{i} = {i}" for i in range(MAX_FILTERS + 1))
    error = error_of(text)
    assert error.column == text.rfind(" and ") + 2
    assert f"at most {MAX_FILTERS} filters" in str(error)
    ok = "event:x where " + " and ".join(f"p{i} = {i}" for i in range(MAX_FILTERS))
    assert len(parse_rule(ok).where) == MAX_FILTERS


# --- JSON rules and definitions -------------------------------------------------------------

JSON_EQUIVALENTS = [
    ({"type": "event", "event": "add_to_cart", "within": "7d"}, "event:add_to_cart in last 7d"),
    (
        {"type": "event", "event": "purchase", "count": {"op": ">=", "value": 3}, "within": "30d"},
        "event:purchase count >= 3 in last 30d",
    ),
    (
        {
            "type": "event",
            "event": "purchase",
            "where": [
                {"property": "amount", "op": ">", "value": 100},
                {"property": "currency", "op": "=", "value": "USD"},
            ],
            "count": {"op": ">=", "value": 2},
            "within": "30d",
        },
        "event:purchase where amount > 100 and currency = USD count >= 2 in last 30d",
    ),
    (
        {"type": "event", "event": "login", "negate": True, "within": "14d"},
        "not event:login in last 14d",
    ),
    (
        {"type": "person", "property": "subscription_status", "op": "=", "value": "active"},
        "person:subscription_status = active",
    ),
    ({"type": "person", "property": "email", "op": "is not set"}, "person:email is not set"),
    ({"type": "person", "property": "zip", "op": "=", "value": "02139"}, 'person:zip = "02139"'),
    ({"type": "person", "property": "score", "op": "<", "value": -1.5}, "person:score < -1.5"),
    ({"type": "cohort", "cohort": "high-intent", "negate": True}, "not cohort:high-intent"),
]


@pytest.mark.parametrize(("item", "text"), JSON_EQUIVALENTS, ids=[t for _, t in JSON_EQUIVALENTS])
def test_json_rule_equals_its_text_form(item: dict[str, Any], text: str) -> None:
    defn = parse_definition([item, text])
    same_rule(defn.rules[0], defn.rules[1])


def test_definition_mixes_text_and_json_and_keeps_match() -> None:
    defn = parse_definition(["event:a", {"type": "person", "property": "p", "op": "is set"}], "any")
    assert defn == Definition(
        rules=[EventRule(event="a"), PersonRule(property="p", op="is set")], match="any"
    )


def test_error_in_a_later_text_rule_names_its_index() -> None:
    with pytest.raises(RuleError) as caught:
        parse_definition(["event:a", "event:b", "evnt:c"])
    assert caught.value.index == 2 and str(caught.value).startswith('rule 3 "evnt:c"')


def test_json_error_names_the_index_and_the_dotted_field() -> None:
    item = {"type": "event", "event": "x", "where": [{"property": "a", "op": "~", "value": 1}]}
    with pytest.raises(RuleError) as caught:
        parse_definition(["event:a", item])
    error = caught.value
    assert (error.index, error.field, error.found, error.column) == (1, "where.0.op", "~", None)
    assert error.rule == json.dumps(item, separators=(",", ":"))
    assert str(error).startswith(
        'rule 2 {"type":"event"'
    ) and "at where.0.op, input should be" in str(error)


@pytest.mark.parametrize(
    ("item", "field", "message"),
    [
        ({"event": "x"}, "type", 'type must be "event", "person" or "cohort"'),
        ({"type": "segment", "event": "x"}, "type", 'type must be "event", "person" or "cohort"'),
        ({"type": "event"}, "event", "field required"),
        ({"type": "event", "event": "x", "extra": 1}, "extra", "extra inputs are not permitted"),
        ({"type": "event", "event": "x", "within": "7x"}, "within", "not a duration"),
        (
            {"type": "event", "event": "x", "count": {"op": ">=", "value": -1}},
            "count.value",
            "greater",
        ),
        (
            {"type": "person", "property": "p", "op": "is set", "value": 1},
            "value",
            "takes no value",
        ),
        ({"type": "person", "property": "p", "op": "="}, "value", "'=' needs a value"),
        (
            {"type": "event", "event": "x", "where": [{"property": "a", "op": "<"}]},
            "where.0.value",
            "needs a value",
        ),
        (
            {"type": "person", "property": "p", "op": ">", "value": math.inf},
            "value",
            "finite number",
        ),
        ({"type": "cohort", "cohort": "x" * 201}, "cohort", "longer than 200"),
    ],
)
def test_invalid_json_rule_becomes_a_rule_error_with_field(
    item: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(RuleError) as caught:
        parse_definition([item])
    assert (caught.value.index, caught.value.field) == (0, field)
    assert message in str(caught.value)


@pytest.mark.parametrize("item", [3, None, ["event:x"], EventRule(event="x")])
def test_rule_that_is_neither_text_nor_object_is_rejected(item: Any) -> None:
    with pytest.raises(RuleError, match="must be text or a JSON object") as caught:
        parse_definition(["event:a", item])
    assert caught.value.index == 1


@pytest.mark.parametrize(
    ("rules", "match", "message"),
    [
        ([], "all", "at least one rule"),
        (["event:x"] * (MAX_RULES + 1), "all", f"at most {MAX_RULES} rules"),
        ("event:x", "all", "must be a list"),
        (["event:x"], "some", 'at match, expected "all" or "any", found "some"'),
        (["event:x"], "ALL", 'expected "all" or "any"'),
    ],
)
def test_bad_definition_shape_is_a_rule_error_without_index(
    rules: Any, match: str, message: str
) -> None:
    with pytest.raises(RuleError) as caught:
        parse_definition(rules, match)
    assert caught.value.index is None and message in str(caught.value)


def test_definition_accepts_exactly_the_maximum_number_of_rules() -> None:
    assert len(parse_definition(["event:x"] * MAX_RULES).rules) == MAX_RULES


# --- round trip over generated rules ---------------------------------------------------------

TRICKY = [
    "count", "where", "and", "in", "last", "not", "is", "set", "contains", "event:x",
    "a=b", "<>", "!", '"', "'", "\\", '\\"', "1", "-1.5", "1e5", " x", "x ", "a b",
    "İıŞş", "🛒", "'); DROP TABLE events; --", "=", "is set", "\t",
]  # fmt: skip
_NAME_CHARS = st.characters(codec="utf-8", exclude_characters="\x00\r\n")
names = st.one_of(
    st.sampled_from([t for t in TRICKY if t.strip()]),
    st.text(_NAME_CHARS, min_size=1, max_size=24).filter(str.strip),
)
values = st.one_of(
    st.sampled_from([*TRICKY, "", "New York", "a\nb", "02139"]),
    st.text(st.characters(codec="utf-8"), max_size=24),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
)
value_ops = st.sampled_from(["=", "!=", ">", ">=", "<", "<=", "contains"])


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"op": draw(st.sampled_from(["is set", "is not set"]))}
    return {"op": draw(value_ops), "value": draw(values)}


_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
windows = st.sampled_from("mhdw").flatmap(
    lambda unit: st.integers(1, min(999_999, MAX_WINDOW_SECONDS // _UNIT_SECONDS[unit])).map(
        lambda n: f"{n}{unit}"
    )
)
counts = st.builds(
    CountCondition,
    op=st.sampled_from([">=", ">", "=", "<=", "<"]),
    value=st.integers(0, 1_000_000_000),
)
filters = st.builds(lambda p, c: PropertyFilter(property=p, **c), names, conditions())
event_rules = st.builds(
    EventRule,
    event=names,
    negate=st.booleans(),
    count=st.none() | counts,
    where=st.lists(filters, max_size=3),
    within=st.none() | windows,
)
person_rules = st.builds(
    lambda p, c, n: PersonRule(property=p, negate=n, **c), names, conditions(), st.booleans()
)
cohort_rules = st.builds(
    CohortRule, cohort=names, cohort_id=st.none() | st.text(max_size=8), negate=st.booleans()
)


@settings(max_examples=600, deadline=None, database=None)
@given(st.one_of(event_rules, person_rules, cohort_rules))
def test_canonical_text_parses_back_to_the_same_rule(rule: Any) -> None:
    if isinstance(rule, CohortRule):
        rule = rule.model_copy(update={"cohort_id": None})
    text = to_text(rule)
    same_rule(parse_rule(text), rule)
    assert to_text(parse_rule(text)) == text


FRAGMENTS = [
    "event:", "person:", "cohort:", "not ", " count ", " where ", " and ", " in last ", " is",
    " not", " set", " contains ", "7d", "0d", "x", "=", ">=", "!", "<", '"', "'", "\\", " ",
    "\t", "\n", "5", "-1.5", "İ", "🛒",
]  # fmt: skip
rule_like_text = st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join)


@settings(max_examples=1000, deadline=None, database=None)
@given(st.one_of(st.text(max_size=40), rule_like_text))
def test_arbitrary_text_either_parses_or_raises_rule_error(text: str) -> None:
    try:
        rule = parse_rule(text)
    except RuleError as error:
        assert error.column is not None and 1 <= error.column <= len(text) + 1
    else:
        same_rule(parse_rule(to_text(rule)), rule)
