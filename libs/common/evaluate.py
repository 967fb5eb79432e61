"""Evaluating definitions: the one place that turns a definition into a query for a
workspace at a time, used by cohort counts and previews and by every refresh."""

from __future__ import annotations

from datetime import datetime

from gurulu.common.clickhouse import ClickHouse
from gurulu.common.rules.compiler import Query, compile_definition
from gurulu.common.rules.model import Definition
from gurulu.common.store import cohorts

SAMPLE_SIZE = 25


def query_for(
    db: ClickHouse,
    workspace_id: str,
    definition: Definition,
    at: datetime,
    cohort_id: str | None = None,
    distinct: bool = True,
) -> Query:
    return compile_definition(
        definition,
        workspace_id=workspace_id,
        at=at,
        resolve=cohorts.resolver(db, workspace_id),
        root_id=cohort_id,
        distinct=distinct,
    )


def count(
    db: ClickHouse,
    workspace_id: str,
    definition: Definition,
    at: datetime,
    cohort_id: str | None = None,
) -> int:
    query = query_for(db, workspace_id, definition, at, cohort_id)
    return int(db.scalar(f"SELECT count() FROM ({query.sql})", query.params))


def sample(
    db: ClickHouse, workspace_id: str, definition: Definition, at: datetime, size: int = SAMPLE_SIZE
) -> list[str]:
    """Up to `size` matching people, spread over the set rather than the first by id."""
    query = query_for(db, workspace_id, definition, at)
    rows = db.rows(
        f"SELECT person_id FROM ({query.sql}) ORDER BY cityHash64(person_id) LIMIT {int(size)}",
        query.params,
    )
    return [row[0] for row in rows]
