"""Compile a cohort definition into one parameterised ClickHouse query of person ids.

Each rule becomes membership (or non-membership) of a set of person ids: people who did an
event (at least k times, with filters, in a window), people with a property value, people in
another cohort. Counting rules are normalised to "at least k": `count <= 2` is "not at least
3", which is why a comparison that zero satisfies includes people with no such event at all.
The sets combine with AND (`all`) or OR (`any`). When the combination can hold for someone
in none of the sets (any `not`), the query starts from every person the workspace knows;
otherwise it starts from a positive set and never touches that table.

Values, keys and names are bound parameters, never SQL text: the SQL depends only on the
shape of the definition, so a hostile value cannot change the query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gurulu.common.rules.model import (
    CohortRule,
    CountCondition,
    Definition,
    EventRule,
    PersonRule,
    PropertyFilter,
)

MAX_DEPTH = 8
# Every use of a cohort compiles all of its rules again, so references multiply: a cohort
# that uses one of 10 rules 10 times holds 100. Past this many rules in all, a definition
# is refused rather than sent to ClickHouse as a query of hundreds of kilobytes that runs
# for minutes and then fails on the query size.
MAX_EXPANDED_RULES = 250
TS_TYPE = "DateTime64(6, 'UTC')"


class CompileError(ValueError):
    """A definition that cannot become a query (an unknown or cyclic cohort reference)."""


Resolver = Callable[[str], Definition]


@dataclass(frozen=True)
class Query:
    sql: str
    params: dict[str, Any]


@dataclass
class _Params:
    values: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any, ch_type: str) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"{{{name}:{ch_type}}}"


@dataclass(frozen=True)
class _Member:
    """`person_id IN (sql)`, or NOT IN when `positive` is false; `sql` None means the
    set of everyone, so the predicate is constant."""

    sql: str | None
    positive: bool

    def predicate(self) -> str:
        if self.sql is None:
            return "1" if self.positive else "0"
        return f"person_id {'IN' if self.positive else 'NOT IN'} ({self.sql})"

    @property
    def holds_for_nobodys_sets(self) -> bool:
        """Does it hold for a person who is in none of the sets?"""
        return not self.positive if self.sql is not None else self.positive


class Compiler:
    def __init__(
        self, workspace_id: str, at: datetime, resolve: Resolver, root: str | None = None
    ) -> None:
        self.params = _Params()
        self.at = at
        self.resolve = resolve
        # Cohorts on the way down, by id, and the names their rules gave them (for errors).
        self.root = root
        self._names: dict[str, str] = {}
        self._rules = 0
        self._ws = self.params.bind(workspace_id, "String")
        self._at = self.params.bind(at, TS_TYPE)

    def definition(
        self, defn: Definition, stack: tuple[str, ...] = (), distinct: bool = True
    ) -> str:
        """The query of the people matching `defn`. Without `distinct` a person may come
        out more than once: cheaper where the consumer deduplicates anyway (`IN`, or the
        refresh's GROUP BY)."""
        members = [self._rule(rule, stack) for rule in defn.rules]
        select = "SELECT DISTINCT" if distinct else "SELECT"
        if defn.match == "all":
            return self._all(members, select)
        return self._any(members, select)

    def _all(self, members: list[_Member], select: str) -> str:
        drivers = [m for m in members if m.positive and m.sql is not None]
        if not drivers:
            return self._from_everyone(members, " AND ")
        driver = drivers[0]
        rest = [m.predicate() for m in members if m is not driver]
        where = f" WHERE {' AND '.join(rest)}" if rest else ""
        return f"{select} person_id FROM ({driver.sql}){where}"

    def _any(self, members: list[_Member], select: str) -> str:
        if any(m.holds_for_nobodys_sets for m in members):
            return self._from_everyone(members, " OR ")
        sets = [f"SELECT person_id FROM ({m.sql})" for m in members if m.sql is not None]
        if not sets:
            return f"SELECT person_id FROM ({self._everyone()}) WHERE 0"
        return f"{select} person_id FROM ({' UNION ALL '.join(sets)})"

    def _from_everyone(self, members: list[_Member], joiner: str) -> str:
        where = joiner.join(m.predicate() for m in members)
        return f"SELECT person_id FROM ({self._everyone()}) WHERE {where}"

    def _everyone(self) -> str:
        return f"SELECT DISTINCT person_id FROM people WHERE workspace_id = {self._ws}"

    def _rule(self, rule: Any, stack: tuple[str, ...]) -> _Member:
        self._rules += 1
        if self._rules > MAX_EXPANDED_RULES:
            raise CompileError(
                "with the cohorts it uses, this definition has more than"
                f" {MAX_EXPANDED_RULES} rules to evaluate (each use of a cohort counts all of"
                " its rules, and theirs):"
                " use fewer or smaller cohorts"
            )
        if isinstance(rule, EventRule):
            member = self._event(rule)
        elif isinstance(rule, PersonRule):
            member = self._person(rule)
        else:
            member = self._cohort(rule, stack)
        if rule.negate:
            return _Member(member.sql, not member.positive)
        return member

    def _event(self, rule: EventRule) -> _Member:
        conditions = [
            f"workspace_id = {self._ws}",
            f"event = {self.params.bind(rule.event, 'String')}",
            f"timestamp <= {self._at}",
        ]
        if rule.window_seconds is not None:
            start = self.at - timedelta(seconds=rule.window_seconds)
            conditions.append(f"timestamp >= {self.params.bind(start, TS_TYPE)}")
        for condition in rule.where:
            conditions.append(self._event_filter(condition))
        source = f"SELECT person_id FROM events WHERE {' AND '.join(conditions)}"
        return self._count(source, rule.count or CountCondition(op=">=", value=1))

    def _count(self, source: str, count: CountCondition) -> _Member:
        def at_least(k: int) -> str:
            if k <= 1:
                return source
            return f"{source} GROUP BY person_id HAVING count() >= {self.params.bind(k, 'UInt64')}"

        n = count.value
        if count.op == ">=":
            return _Member(at_least(n), True) if n > 0 else _Member(None, True)
        if count.op == ">":
            return _Member(at_least(n + 1), True)
        if count.op == "<=":
            return _Member(at_least(n + 1), False)
        if count.op == "<":
            return _Member(at_least(n), False) if n > 0 else _Member(None, False)
        if n == 0:
            return _Member(at_least(1), False)
        exactly = f"{source} GROUP BY person_id HAVING count() = {self.params.bind(n, 'UInt64')}"
        return _Member(exactly, True)

    def _event_filter(self, condition: PropertyFilter) -> str:
        key = self.params.bind(condition.property, "String")
        return self._compare(f"properties[{key}]", f"mapContains(properties, {key})", condition)

    def _person(self, rule: PersonRule) -> _Member:
        key = self.params.bind(rule.property, "String")
        latest = (
            "SELECT person_id, argMax(value, version) AS value,"
            " argMax(is_deleted, version) AS deleted FROM person_properties"
            f" WHERE workspace_id = {self._ws} AND key = {key} GROUP BY person_id"
        )
        op = rule.op
        if op in ("is set", "is not set"):
            return _Member(f"SELECT person_id FROM ({latest}) WHERE deleted = 0", op == "is set")
        if op == "!=":
            equal = rule.filter.model_copy(update={"op": "="})
            matched = f"SELECT person_id FROM ({latest}) WHERE deleted = 0 AND " + self._compare(
                "value", "1", equal
            )
            return _Member(matched, False)
        matched = f"SELECT person_id FROM ({latest}) WHERE deleted = 0 AND " + self._compare(
            "value", "1", rule.filter
        )
        return _Member(matched, True)

    def _compare(self, expr: str, present: str, condition: PropertyFilter) -> str:
        op = condition.op
        if op == "is set":
            return present
        if op == "is not set":
            return f"NOT {present}"
        if op == "!=":
            equal = condition.model_copy(update={"op": "="})
            return f"NOT ({self._compare(expr, present, equal)})"
        if op == "contains":
            needle = self.params.bind(str(condition.value), "String")
            return f"({present} AND position({_folded(expr)}, {_folded(needle)}) > 0)"
        if condition.numeric:
            value = self.params.bind(float(condition.value), "Float64")  # type: ignore[arg-type]
            return f"({present} AND ifNull(toFloat64OrNull({expr}) {op} {value}, 0))"
        value = self.params.bind(str(condition.value), "String")
        return f"({present} AND {expr} {op} {value})"

    def _cohort(self, rule: CohortRule, stack: tuple[str, ...]) -> _Member:
        cohort_id = rule.cohort_id or rule.cohort
        self._names.setdefault(cohort_id, rule.cohort)
        if cohort_id in stack:
            chain = " → ".join(self._names.get(c, c) for c in (*stack, cohort_id))
            raise CompileError(f"cohort {rule.cohort!r} refers to itself ({chain})")
        # The depth counts the cohorts nested below the one being defined, whether or not
        # that one is saved yet (a saved cohort's own id starts the stack).
        if len(stack) - (self.root is not None) >= MAX_DEPTH:
            raise CompileError(f"cohorts are nested more than {MAX_DEPTH} deep")
        nested = self.resolve(cohort_id)
        return _Member(self.definition(nested, (*stack, cohort_id), distinct=False), True)


def compile_definition(
    defn: Definition,
    *,
    workspace_id: str,
    at: datetime,
    resolve: Resolver,
    root_id: str | None = None,
    distinct: bool = True,
) -> Query:
    """The query of the people matching `defn` at time `at` (UTC), in `workspace_id`."""
    compiler = Compiler(workspace_id, at, resolve, root_id or None)
    stack = (root_id,) if root_id else ()
    sql = compiler.definition(defn, stack, distinct)
    return Query(sql, compiler.params.values)


def _folded(expr: str) -> str:
    """Text as `contains` compares it: lower-cased, with the four i's of Turkish (İ I ı i)
    as one letter, so that `izmir` finds İZMİR and `isparta` finds ISPARTA. (ClickHouse's
    own case-insensitive search misses İ: it lower-cases to two characters.)"""
    return f"lowerUTF8(translateUTF8({expr}, 'İIı', 'iii'))"
