"""Cohort routes."""

from __future__ import annotations

from fastapi import APIRouter, Response

from gurulu.common.store import cohorts as store

from .. import audiences, cohorts, views
from ..bodies import JsonRoute
from ..deps import ContextDep, WorkspaceDep
from ..openapi import errors
from ..schemas import CohortCreate, CohortPreview, CohortPublic, CohortUpdate, Page, PreviewPublic

router = APIRouter(
    prefix="/v1/cohorts",
    tags=["cohorts"],
    route_class=JsonRoute,
    responses=errors(401, 415, 422),
)
NAMES_LOCK = "cohort-names"


@router.post("", status_code=201, responses=errors(409, 503))
async def create_cohort(body: CohortCreate, ws: WorkspaceDep, ctx: ContextDep) -> CohortPublic:
    async with ctx.exclusive(NAMES_LOCK, ws.workspace_id):
        cohort = await ctx.run(
            cohorts.define, ctx.db, ws.workspace_id, body.name, body.rules, body.match
        )
    return views.cohort(cohort)


@router.post("/preview")
async def preview_cohort(body: CohortPreview, ws: WorkspaceDep, ctx: ContextDep) -> PreviewPublic:
    found = await ctx.run(cohorts.preview, ctx.db, ws.workspace_id, body.rules, body.match)
    return PreviewPublic(count=found.count, sample=found.sample, notices=found.notices)


@router.get("")
async def list_cohorts(ws: WorkspaceDep, ctx: ContextDep) -> Page[CohortPublic]:
    found = await ctx.run(store.list_all, ctx.db, ws.workspace_id)
    return Page[CohortPublic](data=[views.cohort(c) for c in found])


@router.get("/{cohort:path}", responses=errors(404))
async def show_cohort(cohort: str, ws: WorkspaceDep, ctx: ContextDep) -> CohortPublic:
    return views.cohort(await ctx.run(cohorts.get, ctx.db, ws.workspace_id, cohort))


@router.patch("/{cohort:path}", responses=errors(404, 409, 503))
async def update_cohort(
    cohort: str, body: CohortUpdate, ws: WorkspaceDep, ctx: ContextDep
) -> CohortPublic:
    async with ctx.exclusive(NAMES_LOCK, ws.workspace_id):
        found = await ctx.run(cohorts.get, ctx.db, ws.workspace_id, cohort)
        changed = await ctx.run(
            cohorts.redefine,
            ctx.db,
            ws.workspace_id,
            found.cohort_id,
            body.name,
            body.rules,
            body.match,
        )
    return views.cohort(changed)


@router.delete("/{cohort:path}", status_code=204, responses=errors(404, 409, 503))
async def delete_cohort(cohort: str, ws: WorkspaceDep, ctx: ContextDep) -> Response:
    async with ctx.exclusive(NAMES_LOCK, ws.workspace_id):
        found = await ctx.run(cohorts.get, ctx.db, ws.workspace_id, cohort)
        await audiences.delete_cohort(ctx, ws.workspace_id, found.cohort_id)
    return Response(status_code=204)
