"""What the app's pages show, read in as few queries as the stores allow.

A list page costs one query per kind of fact (audiences, their last successful runs, their
newest runs, the workspace's cohorts, the daily rows of the last 30 days, the quota),
whatever the number of audiences: nothing is read per row. The queries are independent,
so they run side by side off the event loop. Audiences and destinations are shaped by the
API's own `views`, so the app and the API always agree on counts and times, and a
destination's credentials reach a page only as the API's hints.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta

from gurulu.common.clock import utcnow
from gurulu.common.store import audiences as audience_store
from gurulu.common.store import changes, cohorts, daily, destinations, runs, syncs
from gurulu.common.store.audiences import Audience
from gurulu.common.store.changes import PersonChange
from gurulu.common.store.cohorts import Cohort
from gurulu.common.store.daily import DailyRow
from gurulu.common.store.destinations import Destination
from gurulu.common.store.runs import Run
from gurulu.common.store.syncs import Sync

from .. import audiences, views
from .. import destinations as destination_cases
from ..context import ApiContext
from ..destination_schemas import DestinationPublic, SyncPublic
from ..schemas import AudiencePublic
from . import charts

TREND_DAYS = 30
RECENT_RUNS = 10
MAX_RUNS = 200
RECENT_PEOPLE = 10
RECENT_SYNCS = 20
MAX_SYNCS = 200
# After a refresh, how long a page keeps watching for the syncs it causes to be recorded.
OWED_SECONDS = 120
IN_FLIGHT = ("queued", "running")


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
    # Its destinations that need a look: (paused, active with a failed last sync).
    destinations: tuple[int, int] = (0, 0)

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
    refresh_seconds: int  # how often every active audience refreshes

    @property
    def busy(self) -> bool:
        return any(row.busy for row in self.rows)


async def quota(ctx: ApiContext, workspace_id: str) -> Quota:
    return Quota(*await audiences.quota(ctx, workspace_id))


async def audience_list(ctx: ApiContext, workspace_id: str) -> AudienceList:
    today = utcnow().date()
    since = today - timedelta(days=TREND_DAYS - 1)
    found, succeeded, newest, cohort_list, trends, plan, attention = await asyncio.gather(
        ctx.run(audience_store.list_all, ctx.db, workspace_id),
        ctx.run(runs.latest_succeeded_by_audience, ctx.db, workspace_id),
        ctx.run(runs.latest_by_audience, ctx.db, workspace_id),
        ctx.run(cohorts.list_all, ctx.db, workspace_id),
        ctx.run(daily.rows_by_audience, ctx.db, workspace_id, since),
        quota(ctx, workspace_id),
        ctx.run(destinations.needing_attention, ctx.db, workspace_id),
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
            attention.get(a.audience_id, (0, 0)),
        )
        for a in found
    ]
    return AudienceList(rows, cohort_list, plan, interval)


@dataclass(frozen=True)
class DestinationRow:
    destination: DestinationPublic
    # The audience refreshed moments ago and the sync that follows is not recorded yet.
    owed: bool

    @property
    def syncing(self) -> bool:
        last = self.destination.last_sync
        return last is not None and last.status in IN_FLIGHT

    @property
    def busy(self) -> bool:
        return self.syncing or self.owed


def destination_row(d: Destination, last: Sync | None, refreshed: Run | None) -> DestinationRow:
    owed = (
        d.status == "active"
        and refreshed is not None
        and refreshed.finished_at is not None
        and (utcnow() - refreshed.finished_at).total_seconds() < OWED_SECONDS
        and (last is None or last.run_id != refreshed.run_id)
    )
    return DestinationRow(views.destination(d, last), owed)


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
    destinations: list[DestinationRow]
    refresh_seconds: int

    @property
    def created_on(self) -> date:
        return self.audience.created_at.date()

    @property
    def movement(self) -> tuple[int, int]:
        """Joined and left over the days shown, the day of creation (its filling) aside."""
        return charts.movement(self.daily, self.created_on)

    @property
    def started_with(self) -> int | None:
        """The members at the end of the day the audience was created, if that day is shown."""
        found = [row for row in self.daily if row.snapshot_date == self.created_on]
        return found[0].member_count if found else None

    @property
    def busy(self) -> bool:
        refreshing = any(run.status in IN_FLIGHT for run in self.runs[:5])
        return refreshing or any(row.busy for row in self.destinations)


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
    recent, last, rows, people, cohort, connected, synced = await asyncio.gather(
        # one more than shown, to know whether there are older runs to offer
        ctx.run(runs.recent, ctx.db, workspace_id, audience_id, run_limit + 1),
        ctx.run(runs.latest_succeeded, ctx.db, workspace_id, audience_id),
        ctx.run(daily.rows, ctx.db, workspace_id, audience_id, since),
        ctx.run(changes.recent_changes, ctx.db, workspace_id, audience_id, RECENT_PEOPLE),
        ctx.run(cohorts.get, ctx.db, workspace_id, found.source_cohort_id),
        ctx.run(destinations.of_audience, ctx.db, workspace_id, audience_id),
        ctx.run(syncs.latest_by_destination, ctx.db, workspace_id, audience_id),
    )
    interval = ctx.settings.tick_interval_seconds
    public = views.audience(found, last, cohort.name if cohort else None, interval)
    return AudienceDetail(
        public,
        recent[:run_limit],
        len(recent) > run_limit,
        run_limit,
        rows,
        charts.daily_chart(rows, today, days, found.created_at.date()),
        days,
        [p for p in people if p.change == "joined"],
        [p for p in people if p.change == "left"],
        [destination_row(d, synced.get(d.destination_id), last) for d in connected],
        interval,
    )


@dataclass(frozen=True)
class DestinationDetail:
    audience: Audience
    row: DestinationRow
    syncs: list[SyncPublic]
    more_syncs: bool
    sync_limit: int

    @property
    def destination(self) -> DestinationPublic:
        return self.row.destination

    @property
    def busy(self) -> bool:
        return self.row.busy


async def destination_detail(
    ctx: ApiContext,
    workspace_id: str,
    audience_id: str,
    destination_id: str,
    sync_limit: int = RECENT_SYNCS,
) -> DestinationDetail:
    # NotFound, the 404 page, for another workspace's audience or destination
    found = await destination_cases.get(ctx, workspace_id, audience_id, destination_id)
    audience, recent, last = await asyncio.gather(
        audiences.get(ctx, workspace_id, audience_id),
        # one more than shown, to know whether there are older syncs to offer
        ctx.run(syncs.recent, ctx.db, workspace_id, audience_id, destination_id, sync_limit + 1),
        ctx.run(runs.latest_succeeded, ctx.db, workspace_id, audience_id),
    )
    return DestinationDetail(
        audience,
        destination_row(found, recent[0] if recent else None, last),
        [views.sync(s) for s in recent[:sync_limit]],
        len(recent) > sync_limit,
        sync_limit,
    )
