"""What the app's pages show, read in as few queries as the stores allow.

A list page costs one query per kind of fact (audiences, their last successful runs, their
newest runs, the workspace's cohorts, the daily rows of the last 30 days, the quota),
whatever the number of audiences: nothing is read per row. The queries are independent,
so they run side by side off the event loop. Audiences are shaped by the API's own
`views.audience`, so the app and `GET /v1/audiences` always agree on counts and times.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from gurulu.common.clock import utcnow
from gurulu.common.store import audiences as audience_store
from gurulu.common.store import changes, cohorts, daily, runs
from gurulu.common.store.changes import PersonChange
from gurulu.common.store.cohorts import Cohort
from gurulu.common.store.daily import DailyRow
from gurulu.common.store.runs import Run

from .. import audiences, views
from ..context import ApiContext
from ..schemas import AudiencePublic
from . import charts

TREND_DAYS = 30
RECENT_RUNS = 10
MAX_RUNS = 200
RECENT_PEOPLE = 10


@dataclass(frozen=True)
class Quota:
    plan: str
    used: int
    limit: int | None

    @property
    def full(self) -> bool:
        return self.limit is not None and self.used >= self.limit


@dataclass(frozen=True)
class AudienceRow:
    audience: AudiencePublic
    latest: Run | None  # the newest run, whatever its status
    trend: charts.Sparkline | None

    @property
    def busy(self) -> bool:
        return self.latest is not None and self.latest.status in ("queued", "running")

    @property
    def failed(self) -> bool:
        return self.latest is not None and self.latest.status == "failed"


@dataclass(frozen=True)
class AudienceList:
    rows: list[AudienceRow]
    cohorts: list[Cohort]
    quota: Quota

    @property
    def busy(self) -> bool:
        return any(row.busy for row in self.rows)


async def quota(ctx: ApiContext, workspace_id: str) -> Quota:
    return Quota(*await audiences.quota(ctx, workspace_id))


async def audience_list(ctx: ApiContext, workspace_id: str) -> AudienceList:
    today = utcnow().date()
    since = today - timedelta(days=TREND_DAYS - 1)
    found, succeeded, newest, cohort_list, trends, plan = await asyncio.gather(
        ctx.run(audience_store.list_all, ctx.db, workspace_id),
        ctx.run(runs.latest_succeeded_by_audience, ctx.db, workspace_id),
        ctx.run(runs.latest_by_audience, ctx.db, workspace_id),
        ctx.run(cohorts.list_all, ctx.db, workspace_id),
        ctx.run(daily.rows_by_audience, ctx.db, workspace_id, since),
        quota(ctx, workspace_id),
    )
    names = {c.cohort_id: c.name for c in cohort_list}
    interval = ctx.settings.tick_interval_seconds
    rows = [
        AudienceRow(
            views.audience(
                a, succeeded.get(a.audience_id), names.get(a.source_cohort_id), interval
            ),
            newest.get(a.audience_id),
            charts.sparkline(trends.get(a.audience_id, []), today, TREND_DAYS),
        )
        for a in found
    ]
    return AudienceList(rows, cohort_list, plan)


@dataclass(frozen=True)
class AudienceDetail:
    audience: AudiencePublic
    runs: list[Run]
    more_runs: bool
    run_limit: int
    daily: list[DailyRow]
    chart: charts.DailyChart | None
    days: int
    joined: list[PersonChange]
    left: list[PersonChange]

    @property
    def busy(self) -> bool:
        return any(run.status in ("queued", "running") for run in self.runs[:5])


async def audience_detail(
    ctx: ApiContext,
    workspace_id: str,
    audience_id: str,
    days: int = TREND_DAYS,
    run_limit: int = RECENT_RUNS,
) -> AudienceDetail:
    found = await audiences.get(ctx, workspace_id, audience_id)  # NotFound: the 404 page
    today = utcnow().date()
    since = today - timedelta(days=days - 1)
    recent, last, rows, people, cohort = await asyncio.gather(
        # one more than shown, to know whether there are older runs to offer
        ctx.run(runs.recent_by_request, ctx.db, workspace_id, audience_id, run_limit + 1),
        ctx.run(runs.latest_succeeded, ctx.db, workspace_id, audience_id),
        ctx.run(daily.rows, ctx.db, workspace_id, audience_id, since),
        ctx.run(changes.recent_changes, ctx.db, workspace_id, audience_id, RECENT_PEOPLE),
        ctx.run(cohorts.get, ctx.db, workspace_id, found.source_cohort_id),
    )
    interval = ctx.settings.tick_interval_seconds
    public = views.audience(found, last, cohort.name if cohort else None, interval)
    return AudienceDetail(
        public,
        recent[:run_limit],
        len(recent) > run_limit,
        run_limit,
        rows,
        charts.daily_chart(rows, today, days),
        days,
        [p for p in people if p.change == "joined"],
        [p for p in people if p.change == "left"],
    )
