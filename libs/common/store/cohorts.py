"""Cohorts: a named definition and the static count taken when it was saved."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime

from gurulu.common.clickhouse import ClickHouse
from gurulu.common.ids import is_id
from gurulu.common.rules.compiler import CompileError, Resolver
from gurulu.common.rules.model import CohortRule, Definition
from gurulu.common.store.versions import next_version


@dataclass(frozen=True)
class Cohort:
    workspace_id: str
    cohort_id: str
    name: str
    definition: Definition
    count: int
    computed_at: datetime
    created_at: datetime
    updated_at: datetime


_COLUMNS = (
    "workspace_id",
    "cohort_id",
    "name",
    "definition",
    "count",
    "computed_at",
    "created_at",
    "updated_at",
    "version",
    "is_deleted",
)
_SELECT = (
    "SELECT workspace_id, cohort_id, name, definition, count, computed_at, created_at,"
    " updated_at FROM cohorts FINAL WHERE workspace_id = {ws:String}"
)


def _row(cohort: Cohort, deleted: bool) -> tuple:
    values = asdict(cohort) | {"definition": cohort.definition.model_dump_json()}
    return (*(values[c] for c in _COLUMNS[:8]), next_version(), int(deleted))


def _cohort(row: dict) -> Cohort:
    return Cohort(**(row | {"definition": Definition.model_validate_json(row["definition"])}))


def save(db: ClickHouse, cohort: Cohort) -> None:
    db.insert("cohorts", [_row(cohort, False)], _COLUMNS)


def delete(db: ClickHouse, cohort: Cohort) -> None:
    db.insert("cohorts", [_row(cohort, True)], _COLUMNS)


def get(db: ClickHouse, workspace_id: str, cohort_id: str) -> Cohort | None:
    found = _by_id(db, workspace_id, cohort_id)
    return _named(db, found) if found else None


def by_name(db: ClickHouse, workspace_id: str, name: str) -> Cohort | None:
    row = db.one(
        _SELECT + " AND name = {name:String} ORDER BY created_at LIMIT 1",
        {"ws": workspace_id, "name": name},
    )
    return _named(db, _cohort(row)) if row else None


def find(db: ClickHouse, workspace_id: str, id_or_name: str) -> Cohort | None:
    """By id when it looks like one, else by name (names are unique in a workspace)."""
    if is_id(id_or_name, "coh"):
        found = get(db, workspace_id, id_or_name)
        if found:
            return found
    return by_name(db, workspace_id, id_or_name)


def list_all(db: ClickHouse, workspace_id: str) -> list[Cohort]:
    rows = db.dicts(_SELECT + " ORDER BY created_at DESC", {"ws": workspace_id})
    found = [_cohort(row) for row in rows]
    names = {c.cohort_id: c.name for c in found}
    return [_renamed(c, names) for c in found]


def _by_id(db: ClickHouse, workspace_id: str, cohort_id: str) -> Cohort | None:
    row = db.one(_SELECT + " AND cohort_id = {id:String}", {"ws": workspace_id, "id": cohort_id})
    return _cohort(row) if row else None


def _named(db: ClickHouse, cohort: Cohort) -> Cohort:
    """`cohort` with each `cohort:` rule naming the cohort it refers to as that one is named
    now. A definition keeps the id it resolved; the name it was written with may have been
    changed since, and rule text shown (or sent back) with an old name would mean another
    cohort, or none."""
    ids = [ref.cohort_id for ref in cohort.definition.cohort_refs() if ref.cohort_id]
    if not ids:
        return cohort
    rows = db.rows(
        "SELECT cohort_id, name FROM cohorts FINAL"
        " WHERE workspace_id = {ws:String} AND cohort_id IN {ids:Array(String)}",
        {"ws": cohort.workspace_id, "ids": ids},
    )
    return _renamed(cohort, dict(rows))


def _renamed(cohort: Cohort, names: dict[str, str]) -> Cohort:
    rules = [
        rule.model_copy(update={"cohort": names[rule.cohort_id]})
        if isinstance(rule, CohortRule) and rule.cohort_id in names
        else rule
        for rule in cohort.definition.rules
    ]
    if rules == cohort.definition.rules:
        return cohort
    return replace(cohort, definition=cohort.definition.model_copy(update={"rules": rules}))


def referencing(db: ClickHouse, workspace_id: str, cohort_id: str) -> list[Cohort]:
    """The cohorts whose rules refer to `cohort_id`."""
    return [
        c
        for c in list_all(db, workspace_id)
        if any(ref.cohort_id == cohort_id for ref in c.definition.cohort_refs())
    ]


def resolver(db: ClickHouse, workspace_id: str) -> Resolver:
    """Current definitions of referenced cohorts, by id, within the workspace; each one
    read once, however often the definition being compiled uses it."""
    read: dict[str, Definition] = {}

    def resolve(cohort_id: str) -> Definition:
        if cohort_id not in read:
            found = _by_id(db, workspace_id, cohort_id)  # compiling needs no names
            if found is None:
                raise CompileError(f"cohort {cohort_id!r} does not exist")
            read[cohort_id] = found.definition
        return read[cohort_id]

    return resolve
