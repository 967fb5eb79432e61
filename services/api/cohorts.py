"""Cohort use cases: define, preview, redefine and delete.

A cohort is a static count: it is evaluated once when it is saved (or redefined), and the
count and `computed_at` are kept with it. Rules arrive as text or JSON and are validated
into one definition; `cohort:` references are resolved to ids within the workspace, so a
renamed cohort stays referenced, and a definition that would refer to itself is refused.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from gurulu.common import evaluate
from gurulu.common.clickhouse import ClickHouse
from gurulu.common.clock import utcnow
from gurulu.common.errors import Conflict, InvalidRequest, NotFound
from gurulu.common.ids import is_id, new_id
from gurulu.common.rules.compiler import CompileError, compile_definition
from gurulu.common.rules.errors import RuleError
from gurulu.common.rules.model import CohortRule, Definition, EventRule
from gurulu.common.rules.parser import parse_definition
from gurulu.common.store import audiences, cohorts, people
from gurulu.common.store.cohorts import Cohort

from .schemas import one_line

Clock = Callable[[], datetime]
RawRules = list[Any]


def define(
    db: ClickHouse,
    workspace_id: str,
    name: str,
    rules: RawRules,
    match: str = "all",
    clock: Clock = utcnow,
) -> Cohort:
    name = _valid_name(name)
    if cohorts.by_name(db, workspace_id, name) is not None:
        raise Conflict(f"a cohort named {name!r} already exists", field="name")
    definition = _definition(db, workspace_id, rules, match)
    now = clock()
    count = _count(db, workspace_id, definition, now)
    cohort = Cohort(workspace_id, new_id("coh"), name, definition, count, now, now, now)
    cohorts.save(db, cohort)
    return cohort


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[str]
    # Rules about an event the workspace has never seen: `{rule, event, did_you_mean,
    # message}` (see `_unseen_events`).
    notices: list[dict[str, Any]]


def preview(
    db: ClickHouse, workspace_id: str, rules: RawRules, match: str = "all", clock: Clock = utcnow
) -> Preview:
    definition = _definition(db, workspace_id, rules, match)
    now = clock()
    count = _count(db, workspace_id, definition, now)
    sample = evaluate.sample(db, workspace_id, definition, now)
    return Preview(count, sample, _unseen_events(db, workspace_id, definition))


def _unseen_events(
    db: ClickHouse, workspace_id: str, definition: Definition
) -> list[dict[str, Any]]:
    """The rules about an event the workspace has never seen (a typo, most often), each
    with the known event its name is closest to, if one is close. Not an error: events may
    not have arrived yet."""
    named = {i: r.event for i, r in enumerate(definition.rules) if isinstance(r, EventRule)}
    if not named:
        return []
    seen = set(people.events_seen(db, workspace_id, sorted(set(named.values()))))
    unseen = {i: event for i, event in named.items() if event not in seen}
    known = people.event_names(db, workspace_id) if unseen else []
    notices = []
    for index, event in unseen.items():
        close = difflib.get_close_matches(event, known, n=1, cutoff=0.75)
        message = f"No {event!r} event has been seen in this workspace yet"
        message += f"; did you mean {close[0]!r}?" if close else "."
        notices.append(
            {"rule": index, "event": event, "did_you_mean": close[0] if close else None,
             "message": message}
        )  # fmt: skip
    return notices


def redefine(
    db: ClickHouse,
    workspace_id: str,
    cohort_id: str,
    name: str | None = None,
    rules: RawRules | None = None,
    match: str | None = None,
    clock: Clock = utcnow,
) -> Cohort:
    cohort = current = get(db, workspace_id, cohort_id)
    if name is not None and (name := _valid_name(name)) != cohort.name:
        if cohorts.by_name(db, workspace_id, name) is not None:
            raise Conflict(f"a cohort named {name!r} already exists", field="name")
        cohort = replace(cohort, name=name)
    if rules is not None or match is not None:
        raw = rules if rules is not None else [r.model_dump() for r in cohort.definition.rules]
        definition = _definition(db, workspace_id, raw, match or cohort.definition.match)
        now = clock()
        count = _count(db, workspace_id, definition, now, cohort.cohort_id)
        _check_dependents(db, workspace_id, cohort.cohort_id, definition, now)
        cohort = replace(cohort, definition=definition, count=count, computed_at=now)
    # Rules sent again as they were are counted again, but `updated_at` says when the name
    # or the definition last changed; an edit that changes nothing writes nothing.
    if (cohort.name, cohort.definition) != (current.name, current.definition):
        cohort = replace(cohort, updated_at=clock())
    if cohort != current:
        cohorts.save(db, cohort)
    return cohort


def remove(db: ClickHouse, workspace_id: str, cohort_id: str) -> None:
    cohort = get(db, workspace_id, cohort_id)
    used_by = audiences.using_cohort(db, workspace_id, cohort.cohort_id)
    if used_by:
        raise Conflict(
            f"cohort {cohort.name!r} is the source of audiences",
            audiences=[a.name for a in used_by],
            audience_ids=[a.audience_id for a in used_by],
        )
    referenced_by = cohorts.referencing(db, workspace_id, cohort.cohort_id)
    if referenced_by:
        raise Conflict(
            f"cohort {cohort.name!r} is used by other cohorts",
            cohorts=[c.name for c in referenced_by],
            cohort_ids=[c.cohort_id for c in referenced_by],
        )
    cohorts.delete(db, cohort)


def get(db: ClickHouse, workspace_id: str, id_or_name: str) -> Cohort:
    cohort = cohorts.find(db, workspace_id, id_or_name)
    if cohort is None:
        raise NotFound(f"no cohort {id_or_name!r} in this workspace")
    return cohort


def _valid_name(name: str) -> str:
    try:
        name = one_line(name if isinstance(name, str) else "")
    except ValueError as error:
        raise InvalidRequest(f"a cohort's name {error}", field="name") from None
    # A cohort is addressed by id or by name, in paths, `source_cohort_id` and `cohort:`
    # rules: a name shaped like an id could be another cohort's id.
    if is_id(name, "coh"):
        raise InvalidRequest("a cohort's name must not look like a cohort id (coh_…)", field="name")
    return name


def _definition(db: ClickHouse, workspace_id: str, rules: RawRules, match: str) -> Definition:
    try:
        definition = parse_definition(rules, match)
    except RuleError as error:
        raise InvalidRequest(str(error), field="rules", rule_error=error.to_dict()) from error
    return _resolve_references(db, workspace_id, definition)


def _resolve_references(db: ClickHouse, workspace_id: str, definition: Definition) -> Definition:
    resolved = []
    for index, rule in enumerate(definition.rules):
        if isinstance(rule, CohortRule):
            target = cohorts.find(db, workspace_id, rule.cohort_id or rule.cohort)
            if target is None:
                raise InvalidRequest(
                    f"rule {index + 1}: no cohort {rule.cohort!r} in this workspace",
                    field=f"rules.{index}",
                )
            rule = rule.model_copy(update={"cohort": target.name, "cohort_id": target.cohort_id})
        resolved.append(rule)
    return definition.model_copy(update={"rules": resolved})


def _check_dependents(
    db: ClickHouse, workspace_id: str, cohort_id: str, definition: Definition, at: datetime
) -> None:
    """Refuse a new definition that would break a cohort built on this one (nesting it too
    deep), which would otherwise fail every refresh of the audiences on it."""
    others = {c.cohort_id: c for c in cohorts.list_all(db, workspace_id)}
    others.pop(cohort_id, None)

    def resolve(wanted: str) -> Definition:
        if wanted == cohort_id:
            return definition
        if wanted not in others:
            raise CompileError(f"cohort {wanted!r} does not exist")
        return others[wanted].definition

    for other in others.values():
        if not _reaches(other.definition, cohort_id, others):
            continue
        try:
            compile_definition(
                other.definition,
                workspace_id=workspace_id,
                at=at,
                resolve=resolve,
                root_id=other.cohort_id,
            )
        except CompileError as error:
            raise InvalidRequest(
                f"cohort {other.name!r} is built on this one and would break: {error}",
                field="rules",
            ) from error


def _reaches(definition: Definition, cohort_id: str, others: dict[str, Cohort]) -> bool:
    seen: set[str] = set()
    todo = [ref.cohort_id or ref.cohort for ref in definition.cohort_refs()]
    while todo:
        current = todo.pop()
        if current == cohort_id:
            return True
        if current in seen or current not in others:
            continue
        seen.add(current)
        todo.extend(ref.cohort_id or ref.cohort for ref in others[current].definition.cohort_refs())
    return False


def _count(
    db: ClickHouse,
    workspace_id: str,
    definition: Definition,
    at: datetime,
    cohort_id: str | None = None,
) -> int:
    try:
        return evaluate.count(db, workspace_id, definition, at, cohort_id)
    except CompileError as error:
        raise InvalidRequest(str(error), field="rules") from error
