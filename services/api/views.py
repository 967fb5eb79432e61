"""Stored records into their public shapes."""

from __future__ import annotations

from datetime import timedelta

from gurulu.common.clock import boundary, utcnow
from gurulu.common.rules.text import definition_to_text
from gurulu.common.store.audiences import Audience
from gurulu.common.store.cohorts import Cohort
from gurulu.common.store.daily import DailyRow
from gurulu.common.store.runs import Run

from .schemas import AudiencePublic, CohortPublic, DailyPublic, RunPublic


def cohort(c: Cohort) -> CohortPublic:
    return CohortPublic(
        id=c.cohort_id,
        name=c.name,
        rules=definition_to_text(c.definition),
        definition=c.definition.model_dump(mode="json"),
        match=c.definition.match,
        count=c.count,
        computed_at=c.computed_at,
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


def audience(
    a: Audience, last: Run | None, cohort_name: str | None, interval_seconds: int
) -> AudiencePublic:
    interval = timedelta(seconds=interval_seconds)
    next_refresh = boundary(utcnow(), interval) + interval if a.status == "active" else None
    return AudiencePublic(
        id=a.audience_id,
        name=a.name,
        source_cohort_id=a.source_cohort_id,
        source_cohort_name=cohort_name,
        sync=a.sync,
        status=a.status,
        created_at=a.created_at,
        updated_at=a.updated_at,
        member_count=last.member_count if last else 0,
        last_refreshed_at=last.finished_at if last else None,
        next_refresh_at=next_refresh,
    )


def run(r: Run) -> RunPublic:
    duration = None
    if r.finished_at and r.started_at:
        duration = round((r.finished_at - r.started_at).total_seconds(), 3)
    return RunPublic(
        run_id=r.run_id,
        reason=r.reason,
        status=r.status,
        requested_at=r.requested_at,
        started_at=r.started_at,
        evaluated_at=r.evaluated_at,
        finished_at=r.finished_at,
        duration_seconds=duration,
        member_count=r.member_count,
        joined_count=r.joined_count,
        left_count=r.left_count,
        rows_read=r.rows_read,
        error=r.error or None,
    )


def daily(row: DailyRow) -> DailyPublic:
    return DailyPublic(
        audience_id=row.audience_id,
        snapshot_date=row.snapshot_date.isoformat(),
        member_count=row.member_count,
        joined_count=row.joined_count,
        left_count=row.left_count,
        net_change=row.net_change,
    )
