"""Builders for tests: a workspace with people, events, cohorts and audiences, written
through the same stores and use cases the services use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gurulu.api import cohorts as cohort_cases
from gurulu.common import evaluate
from gurulu.common.clickhouse import ClickHouse
from gurulu.common.ids import new_id
from gurulu.common.store import audiences, people, runs, workspaces
from gurulu.common.store.audiences import Audience
from gurulu.common.store.cohorts import Cohort
from gurulu.common.store.runs import Run

NOW = datetime(2026, 6, 15, 12, 0, 0, tzinfo=UTC)


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def workspace(db: ClickHouse, plan: str = "custom") -> str:
    created, _key = workspaces.create(db, "Test shop", plan)  # type: ignore[arg-type]
    return created.workspace_id


def events(db: ClickHouse, ws: str, *rows: tuple[str, str, datetime] | tuple) -> None:
    """Rows of (person_id, event, timestamp[, properties])."""
    people.insert_events(
        db,
        ws,
        [people.Event(row[1], row[0], row[2], row[3] if len(row) > 3 else {}) for row in rows],
    )


def persons(db: ClickHouse, ws: str, **props: dict[str, Any]) -> None:
    people.upsert_persons(db, ws, [people.Person(pid, p) for pid, p in props.items()])


def cohort(
    db: ClickHouse, ws: str, name: str, *rules: Any, match: str = "all", at: datetime = NOW
) -> Cohort:
    return cohort_cases.define(db, ws, name, list(rules), match, clock=lambda: at)


def matching(
    db: ClickHouse, ws: str, *rules: Any, match: str = "all", at: datetime = NOW
) -> set[str]:
    """Everyone a definition matches at `at` (the whole set; tests keep it small)."""
    definition = cohort_cases._definition(db, ws, list(rules), match)
    query = evaluate.query_for(db, ws, definition, at)
    return {row[0] for row in db.rows(query.sql, query.params)}


def audience(db: ClickHouse, ws: str, source: Cohort, name: str = "Live") -> Audience:
    made = Audience(ws, new_id("aud"), name, source.cohort_id, "hourly", "active", NOW, NOW)
    audiences.save(db, made)
    return made


def request(db: ClickHouse, aud: Audience, reason: str = "manual", at: datetime = NOW) -> Run:
    run = Run(aud.workspace_id, aud.audience_id, new_id("run"), reason, "queued", at)
    runs.record_requests(db, [run])
    return run


def members(db: ClickHouse, aud: Audience) -> dict[str, datetime]:
    rows = db.rows(
        "SELECT person_id, joined_at FROM audience_members FINAL"
        " WHERE workspace_id = {ws:String} AND audience_id = {aud:String}",
        {"ws": aud.workspace_id, "aud": aud.audience_id},
    )
    return dict(rows)
