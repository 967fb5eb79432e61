"""Rule text and JSON rules into the typed model.

`parse_rule` is a recursive-descent parser over the on-demand `Scanner`: one method per
grammar production (rule, body, event tail, filter, condition, value), each asking the scanner
for exactly the token its position allows. Because every name and value is read by position,
keywords are never reserved: `event:count`, a property called `in` and a value `and` all mean
themselves, and only the operator characters `= ! < >` and the quotes need quoting. Parsed
pieces are built into the pydantic models as soon as they are complete, so a model limit
(a name too long, too many filters) is reported at the column of the offending piece.
`parse_definition` accepts a list mixing text and JSON objects and turns every problem into a
`RuleError` naming the item, so callers deal with one error type whatever the spelling.

    rule        := ["not"] body
    body        := "event:" NAME event_tail | "person:" KEY person_cond | "cohort:" NAME
    event_tail  := { "count" COUNT_OP INT | "where" filter { "and" filter } }
                   ["in" "last" DURATION]
    filter      := KEY PROP_OP VALUE | KEY "is" "set" | KEY "is" "not" "set"
    person_cond := PROP_OP VALUE | "is" "set" | "is" "not" "set"
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from .errors import RuleError
from .lexer import OPERATOR_CHARS, QUOTES, Scanner, Token
from .model import (
    MAX_FILTERS,
    MAX_RULES,
    MAX_WINDOW,
    CohortRule,
    CountCondition,
    Definition,
    EventRule,
    PersonRule,
    PropertyFilter,
    Rule,
    Scalar,
    WindowTooLong,
    duration_seconds,
)

PREFIXES = ("event", "person", "cohort")
COMPARISONS = ("=", "!=", ">", ">=", "<", "<=")
COUNT_OPS = (">=", ">", "=", "<=", "<")
SET_OPS = ("is set", "is not set")
MAX_COUNT = 1_000_000_000

_PREFIX_EXPECTED = "one of event:, person:, cohort:"
_OP_EXPECTED = "an operator (= != > >= < <= contains, is set, is not set)"
_DURATION_EXPECTED = "a duration like 7d (units m, h, d, w)"
_EMPTY_WINDOW = "a window of at least 1 (1m, 1h, 1d or 1w); leave it out for ever"
_WINDOW_EXPECTED = f"a window of at most {MAX_WINDOW} (100 years; no window means ever)"
_CLAUSE_FIELDS = {"count": "count", "where": "where", "in": "within"}
_RULE_ADAPTER: TypeAdapter[Rule] = TypeAdapter(Rule)
_M = TypeVar("_M", bound=BaseModel)


def parse_rule(text: str, index: int | None = None) -> Rule:
    """The rule that `text` spells; `index` is its position in a definition, for errors."""
    return _TextParser(text, index).rule()


def parse_definition(rules: list[str | dict[str, Any]], match: str = "all") -> Definition:
    """A definition from rules given as text or JSON objects, ANDed or ORed by `match`."""
    if match not in ("all", "any"):
        raise RuleError(field="match", expected='"all" or "any"', found=str(match))
    if not isinstance(rules, list | tuple):
        raise RuleError("rules must be a list of rule texts or JSON objects")
    if not rules:
        raise RuleError("a definition needs at least one rule")
    if len(rules) > MAX_RULES:
        raise RuleError(f"a definition has at most {MAX_RULES} rules, not {len(rules)}")
    parsed = [_parse_item(item, index) for index, item in enumerate(rules)]
    return Definition(rules=parsed, match=match)  # type: ignore[arg-type]


def _parse_item(item: object, index: int) -> Rule:
    if isinstance(item, str):
        return parse_rule(item, index)
    if isinstance(item, dict):
        return _parse_json(item, index)
    raise RuleError(
        f"a rule must be text or a JSON object, not {type(item).__name__}",
        index=index,
        rule=repr(item),
    )


class _TextParser:
    def __init__(self, text: str, index: int | None) -> None:
        self.scan = Scanner(text, index)

    def rule(self) -> Rule:
        negate = self._not()
        prefix = self._prefix()
        if prefix == "event":
            return self._event(negate)
        if prefix == "person":
            return self._person(negate)
        return self._cohort(negate)

    def _not(self) -> bool:
        # `not` must stand alone as a word: `notevent:x` is a bad prefix, not a negation.
        scan = self.scan
        scan.skip_space()
        after = scan.pos + len(scan.peek_word())
        if scan.peek_word().lower() != "not" or scan.text[after : after + 1].strip():
            return False
        scan.pos = after
        return True

    def _prefix(self) -> str:
        scan = self.scan
        scan.skip_space()
        word = scan.peek_word().lower()
        end = scan.pos + len(word)
        if word not in PREFIXES or scan.text[end : end + 1] != ":":
            raise scan.error(_PREFIX_EXPECTED)
        scan.pos = end + 1
        return word

    def _name(self, what: str, stop: str = "") -> Token:
        # The name is part of the prefix token, as in `event:purchase`; allowing a space
        # here would make `event: in last 7d` an event called "in".
        if self.scan.peek_char().isspace():
            raise self.scan.error(f"{what} directly after the colon")
        return self.scan.token(what, stop)

    def _end(self, expected: str = "end of rule") -> None:
        if not self.scan.at_end():
            raise self.scan.error(expected)

    def _event(self, negate: bool) -> EventRule:
        scan = self.scan
        name = self._name("an event name")
        fields: dict[str, Any] = {"event": name.text, "negate": negate}
        columns = {"": name.column, "event": name.column}
        last = ""
        while not scan.at_end():
            start = scan.pos
            word = scan.keyword(*_CLAUSE_FIELDS)
            if word is None or _CLAUSE_FIELDS[word] in fields:
                expected = _tail_expected(fields, last)
                if word is not None:
                    expected += f" ({word} may appear only once)"
                raise scan.error(expected, at=start)
            columns[_CLAUSE_FIELDS[word]] = start + 1
            if word == "count":
                fields["count"] = self._count()
            elif word == "where":
                fields["where"] = self._filters()
            else:
                fields["within"] = self._within()
            last = word
        return self._build(EventRule, fields, columns)

    def _count(self) -> CountCondition:
        scan = self.scan
        scan.skip_space()
        start = scan.pos
        op = scan.operator()
        if op not in COUNT_OPS:
            raise scan.error("a count comparison (>= > = <= <)", at=start)
        scan.skip_space()
        start = scan.pos
        number = scan.token("a whole number")
        if number.quoted or not re.fullmatch("[0-9]+", number.text):
            raise scan.error("a whole number", at=start)
        if len(number.text) > 10 or int(number.text) > MAX_COUNT:
            raise scan.error(f"a count from 0 to {MAX_COUNT}", at=start)
        return CountCondition(op=op, value=int(number.text))  # type: ignore[arg-type]

    def _filters(self) -> list[PropertyFilter]:
        filters = [self._filter()]
        while True:
            self.scan.skip_space()
            start = self.scan.pos
            if self.scan.keyword("and") is None:
                return filters
            if len(filters) == MAX_FILTERS:
                raise self.scan.error(
                    None, at=start, detail=f"an event rule takes at most {MAX_FILTERS} filters"
                )
            filters.append(self._filter())

    def _filter(self) -> PropertyFilter:
        self.scan.skip_space()
        key = self.scan.token("a property name", stop=OPERATOR_CHARS)
        op, value, column = self._condition(rest=False)
        fields = {"property": key.text, "op": op, "value": value}
        return self._build(PropertyFilter, fields, {"property": key.column, "": column})

    def _within(self) -> str:
        scan = self.scan
        scan.expect_keyword("last", '"last" after "in"')
        scan.skip_space()
        start = scan.pos
        window = scan.token(_DURATION_EXPECTED)
        try:
            duration_seconds(window.text)
        except WindowTooLong:
            raise scan.error(_WINDOW_EXPECTED, at=start) from None
        except ValueError:
            empty = re.fullmatch(r"0+[mhdw]", window.text)
            raise scan.error(_EMPTY_WINDOW if empty else _DURATION_EXPECTED, at=start) from None
        if window.quoted:
            raise scan.error(_DURATION_EXPECTED, at=start)
        self._end("end of rule (in last ... must come last)")
        return window.text

    def _person(self, negate: bool) -> PersonRule:
        key = self._name("a property name", stop=OPERATOR_CHARS)
        op, value, column = self._condition(rest=True)
        self._end()
        fields = {"property": key.text, "op": op, "value": value, "negate": negate}
        return self._build(PersonRule, fields, {"property": key.column, "": column})

    def _cohort(self, negate: bool) -> CohortRule:
        name = self._name("a cohort name")
        self._end()
        fields = {"cohort": name.text, "negate": negate}
        return self._build(CohortRule, fields, {"": name.column})

    def _condition(self, rest: bool) -> tuple[str, Scalar | None, int]:
        """An operator and its value (none for `is set`), with the value's column."""
        op, column = self._property_op()
        if op in SET_OPS:
            return op, None, column
        token = self._value(rest)
        return op, self.scan.scalar(token, compared=op != "contains"), token.column

    def _property_op(self) -> tuple[str, int]:
        scan = self.scan
        scan.skip_space()
        start = scan.pos
        symbol = scan.operator()
        if symbol in COMPARISONS:
            return symbol, start + 1
        word = None if symbol else scan.keyword("contains", "is")
        if word == "contains":
            return "contains", start + 1
        if word != "is":
            raise scan.error(_OP_EXPECTED, at=start)
        negated = scan.keyword("not") is not None
        scan.expect_keyword("set", '"set" after "is not"' if negated else '"set" or "not set"')
        return ("is not set" if negated else "is set"), start + 1

    def _value(self, rest: bool) -> Token:
        scan = self.scan
        scan.skip_space()
        char = scan.peek_char()
        if not char:
            raise scan.error("a value")
        if char in QUOTES:
            return scan.quoted()
        if char in OPERATOR_CHARS:
            # Most likely a mistyped operator such as `= >5`; quoting says it is meant.
            raise scan.error("a value (quote a value that starts with = ! < or >)")
        return scan.rest() if rest else scan.token("a value")

    def _build(self, model: type[_M], fields: dict[str, Any], columns: dict[str, int]) -> _M:
        """The model from `fields`; a validation error points at the field's column, or at
        `columns[""]` for checks that span fields."""
        try:
            return model(**fields)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = str(error["loc"][0]) if error["loc"] else ""
            column = columns.get(field, columns[""])
            raise self.scan.error(None, at=column - 1, detail=_plain(error)) from None


def _tail_expected(fields: dict[str, Any], last: str) -> str:
    options = ["and"] if last == "where" else []
    options += [word for word in ("count", "where") if word not in fields]
    options += ["in last", "end of rule"]
    return ", ".join(options[:-1]) + " or " + options[-1]


def _plain(error: ErrorDetails) -> str:
    message = error["msg"].removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def _parse_json(item: dict[str, Any], index: int) -> Rule:
    dump = _dump(item)
    try:
        rule = _RULE_ADAPTER.validate_python(item)
    except ValidationError as exc:
        raise _json_error(exc.errors()[0], item, index, dump) from None
    # Python's json module reads `Infinity`, which the model lets through and nothing can
    # compare with or render as text.
    values = {"value": getattr(rule, "value", None)}
    for position, condition in enumerate(getattr(rule, "where", [])):
        values[f"where.{position}.value"] = condition.value
    for field, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            detail = "value must be a finite number"
            raise RuleError(detail, index=index, rule=dump, field=field, json_rule=True)
    return rule


def _json_error(error: ErrorDetails, item: dict[str, Any], index: int, dump: str) -> RuleError:
    loc, detail, given = list(error["loc"]), _plain(error), error.get("input")
    expected = (error.get("ctx") or {}).get("expected")
    if error["type"] in ("union_tag_not_found", "union_tag_invalid"):
        loc, expected, given = ["type"], '"event", "person" or "cohort"', item.get("type")
        detail = f"type must be {expected}"
    elif loc and loc[0] == item.get("type"):
        # The discriminated union puts the tag first in the location; people never wrote it.
        loc = loc[1:]
    # Checks that span fields report no field; in the model those are all about `value`.
    if error["type"] == "value_error" and (not loc or isinstance(loc[-1], int)):
        loc.append("value")
    found = json.dumps(given) if isinstance(given, int | float | bool) else given
    return RuleError(
        detail,
        index=index,
        rule=dump,
        field=".".join(str(part) for part in loc) or None,
        expected=expected,
        found=found if isinstance(found, str) else None,
        json_rule=True,
    )


def _dump(item: dict[str, Any]) -> str:
    try:
        return json.dumps(item, ensure_ascii=False, separators=(",", ":"), default=str)
    except ValueError:  # a circular structure
        return repr(item)
