"""Stored records into their public shapes."""

from __future__ import annotations

from datetime import datetime, timedelta

from gurulu.common.clock import boundary, utcnow
from gurulu.common.rules.text import definition_to_text
from gurulu.common.store.audiences import Audience
from gurulu.common.store.cohorts import Cohort
from gurulu.common.store.daily import DailyRow
from gurulu.common.store.destinations import Destination
from gurulu.common.store.runs import Run
from gurulu.common.store.syncs import Sync

from .destination_schemas import DestinationPublic, RejectedRow, SyncPublic
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


def _seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None


def run(r: Run) -> RunPublic:
    duration = _seconds_between(r.started_at, r.finished_at)
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


def destination(d: Destination, last: Sync | None) -> DestinationPublic:
    """A destination as it may be shown: its credentials only as hints."""
    return DestinationPublic(
        id=d.destination_id,
        audience_id=d.audience_id,
        type=d.type,
        name=d.name,
        mode=d.mode,
        status=d.status,
        paused_reason=d.paused_reason or None,
        config=d.config,
        credentials=d.credential_hints,
        created_at=d.created_at,
        updated_at=d.updated_at,
        last_sync=sync(last) if last else None,
    )


def sync(s: Sync) -> SyncPublic:
    duration = _seconds_between(s.started_at, s.finished_at)
    return SyncPublic(
        sync_id=s.sync_id,
        destination_id=s.destination_id,
        run_id=s.run_id,
        trigger=s.trigger,
        status=s.status,
        to_add=s.to_add,
        to_remove=s.to_remove,
        added=s.added,
        removed=s.removed,
        skipped=s.skipped,
        skipped_reasons=s.skipped_reasons,
        rejected=s.rejected,
        rejected_sample=[RejectedRow(**row) for row in s.rejected_sample],
        batches=s.batches,
        error=s.error or None,
        requested_at=s.requested_at,
        started_at=s.started_at,
        finished_at=s.finished_at,
        duration_seconds=duration,
    )
