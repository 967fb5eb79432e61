"""Audience routes, the quota and the CSV export."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from gurulu.common.errors import InvalidRequest
from gurulu.common.store import audiences as store
from gurulu.common.store import cohorts, daily, runs
from gurulu.common.store.audiences import Audience

from .. import audiences, export, views
from ..bodies import JsonRoute
from ..context import ApiContext
from ..deps import ContextDep, WorkspaceDep
from ..openapi import errors
from ..schemas import (
    AudienceCreate,
    AudiencePublic,
    AudienceUpdate,
    DailyPublic,
    Page,
    PageBefore,
    QuotaDimension,
    QuotaPublic,
    RefreshAccepted,
    RunPublic,
)

router = APIRouter(
    prefix="/v1",
    tags=["audiences"],
    route_class=JsonRoute,
    responses=errors(401, 415, 422),
)


async def _public(ctx: ApiContext, found: list[Audience]) -> list[AudiencePublic]:
    if not found:
        return []
    ws = found[0].workspace_id
    latest = await ctx.run(runs.latest_succeeded_by_audience, ctx.db, ws)
    names = {c.cohort_id: c.name for c in await ctx.run(cohorts.list_all, ctx.db, ws)}
    interval = ctx.settings.tick_interval_seconds
    return [
        views.audience(a, latest.get(a.audience_id), names.get(a.source_cohort_id), interval)
        for a in found
    ]


@router.post("/audiences", status_code=201, responses=errors(402, 404, 503))
async def create_audience(
    body: AudienceCreate, ws: WorkspaceDep, ctx: ContextDep
) -> AudiencePublic:
    audience, _ = await audiences.create(
        ctx, ws.workspace_id, body.name, body.source_cohort_id, body.sync
    )
    return (await _public(ctx, [audience]))[0]


@router.get("/audiences")
async def list_audiences(
    ws: WorkspaceDep,
    ctx: ContextDep,
    status: str | None = Query(default=None, pattern="^(active|paused)$"),
) -> Page[AudiencePublic]:
    found = await ctx.run(store.list_all, ctx.db, ws.workspace_id, status)
    return Page[AudiencePublic](data=await _public(ctx, found))


@router.get("/audiences/{audience_id}", responses=errors(404))
async def show_audience(audience_id: str, ws: WorkspaceDep, ctx: ContextDep) -> AudiencePublic:
    audience = await audiences.get(ctx, ws.workspace_id, audience_id)
    return (await _public(ctx, [audience]))[0]


@router.patch("/audiences/{audience_id}", responses=errors(402, 404, 503))
async def update_audience(
    audience_id: str, body: AudienceUpdate, ws: WorkspaceDep, ctx: ContextDep
) -> AudiencePublic:
    audience = await audiences.update(ctx, ws.workspace_id, audience_id, body.name, body.status)
    return (await _public(ctx, [audience]))[0]


@router.delete("/audiences/{audience_id}", status_code=204, responses=errors(404, 503))
async def archive_audience(audience_id: str, ws: WorkspaceDep, ctx: ContextDep) -> Response:
    await audiences.archive(ctx, ws.workspace_id, audience_id)
    return Response(status_code=204)


@router.post("/audiences/{audience_id}/refresh", status_code=202, responses=errors(404, 409))
async def refresh_audience(audience_id: str, ws: WorkspaceDep, ctx: ContextDep) -> RefreshAccepted:
    run = await audiences.refresh_now(ctx, ws.workspace_id, audience_id)
    return RefreshAccepted(run_id=run.run_id)


@router.get("/audiences/{audience_id}/runs", responses=errors(404))
async def list_runs(
    audience_id: str,
    ws: WorkspaceDep,
    ctx: ContextDep,
    limit: int = Query(default=100, ge=1, le=1000),
    before: str | None = Query(
        default=None,
        max_length=200,
        description="A run id: the runs that come after it, newest first (the previous"
        " page's `next_before`).",
    ),
) -> PageBefore[RunPublic]:
    await audiences.get(ctx, ws.workspace_id, audience_id)
    after = None
    if before is not None:
        after = await ctx.run(runs.get, ctx.db, ws.workspace_id, audience_id, before)
        if after is None:
            raise InvalidRequest(f"before: no run {before!r} of this audience", field="before")
    found = await ctx.run(runs.recent, ctx.db, ws.workspace_id, audience_id, limit, after)
    more = found[-1].run_id if len(found) == limit else None
    return PageBefore[RunPublic](data=[views.run(r) for r in found], next_before=more)


@router.get("/audiences/{audience_id}/changes", responses=errors(404))
async def list_changes(audience_id: str, ws: WorkspaceDep, ctx: ContextDep) -> Page[DailyPublic]:
    await audiences.get(ctx, ws.workspace_id, audience_id)
    rows = await ctx.run(daily.rows, ctx.db, ws.workspace_id, audience_id)
    return Page[DailyPublic](data=[views.daily(r) for r in rows])


@router.get(
    "/audiences/{audience_id}/export.csv", response_class=StreamingResponse, responses=errors(404)
)
async def export_members(audience_id: str, ws: WorkspaceDep, ctx: ContextDep) -> StreamingResponse:
    audience = await audiences.get(ctx, ws.workspace_id, audience_id)
    return StreamingResponse(
        export.member_rows(ctx.db, ws.workspace_id, audience.audience_id),
        media_type="text/csv; charset=utf-8",
        headers=export.download_headers(audience),
    )


@router.get("/quota")
async def show_quota(ws: WorkspaceDep, ctx: ContextDep) -> QuotaPublic:
    plan, used, limit = await audiences.quota(ctx, ws.workspace_id)
    return QuotaPublic(plan=plan, dimensions={"audiences": QuotaDimension(used=used, limit=limit)})
