"""Destination routes: connect an audience to Meta, Google or a webhook, and follow its
syncs. Another workspace's audience or destination answers 404, like a missing one."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from gurulu.common.errors import InvalidRequest
from gurulu.common.store import destinations as store
from gurulu.common.store import syncs
from gurulu.common.store.destinations import Destination
from gurulu.common.store.syncs import Sync

from .. import audiences, views
from .. import destinations as cases
from ..bodies import JsonRoute
from ..context import ApiContext
from ..deps import ContextDep, WorkspaceDep
from ..destination_schemas import (
    DestinationCreate,
    DestinationCreated,
    DestinationPublic,
    DestinationUpdate,
    SyncAccepted,
    SyncPublic,
)
from ..openapi import errors
from ..schemas import Page, PageBefore

router = APIRouter(
    prefix="/v1/audiences/{audience_id}/destinations",
    tags=["destinations"],
    route_class=JsonRoute,
    responses=errors(401, 404, 415, 422),
)


@router.post("", status_code=201, responses=errors(503))
async def connect(
    audience_id: str, body: DestinationCreate, ws: WorkspaceDep, ctx: ContextDep
) -> DestinationCreated:
    made, secret, sync = await cases.create(ctx, ws.workspace_id, audience_id, body)
    public = views.destination(made, sync)
    return DestinationCreated(
        **public.model_dump(), signing_secret=secret, first_sync_id=sync and sync.sync_id
    )


@router.get("")
async def list_destinations(
    audience_id: str, ws: WorkspaceDep, ctx: ContextDep
) -> Page[DestinationPublic]:
    await audiences.get(ctx, ws.workspace_id, audience_id)
    found = await ctx.run(store.of_audience, ctx.db, ws.workspace_id, audience_id)
    latest = await ctx.run(syncs.latest_by_destination, ctx.db, ws.workspace_id, audience_id)
    shown = [views.destination(d, latest.get(d.destination_id)) for d in found]
    return Page[DestinationPublic](data=shown)


@router.get("/{destination_id}")
async def show(
    audience_id: str, destination_id: str, ws: WorkspaceDep, ctx: ContextDep
) -> DestinationPublic:
    found = await cases.get(ctx, ws.workspace_id, audience_id, destination_id)
    return views.destination(found, await _last_sync(ctx, found))


@router.patch("/{destination_id}", responses=errors(503))
async def update(
    audience_id: str,
    destination_id: str,
    body: DestinationUpdate,
    ws: WorkspaceDep,
    ctx: ContextDep,
) -> DestinationPublic:
    found = await cases.update(ctx, ws.workspace_id, audience_id, destination_id, body)
    return views.destination(found, await _last_sync(ctx, found))


@router.delete("/{destination_id}", status_code=204, responses=errors(503))
async def remove(audience_id: str, destination_id: str, ws: WorkspaceDep, ctx: ContextDep):
    await cases.remove(ctx, ws.workspace_id, audience_id, destination_id)
    return Response(status_code=204)


@router.post("/{destination_id}/sync", status_code=202, responses=errors(409))
async def sync_now(
    audience_id: str, destination_id: str, ws: WorkspaceDep, ctx: ContextDep
) -> SyncAccepted:
    sync = await cases.sync_now(ctx, ws.workspace_id, audience_id, destination_id)
    return SyncAccepted(sync_id=sync.sync_id, run_id=sync.run_id)


@router.get("/{destination_id}/syncs")
async def list_syncs(
    audience_id: str,
    destination_id: str,
    ws: WorkspaceDep,
    ctx: ContextDep,
    limit: int = Query(default=50, ge=1, le=500),
    before: str | None = Query(
        default=None,
        max_length=200,
        description="A sync id: the syncs that come after it, newest first (the previous"
        " page's `next_before`).",
    ),
) -> PageBefore[SyncPublic]:
    await cases.get(ctx, ws.workspace_id, audience_id, destination_id)
    after = None
    if before is not None:
        after = await ctx.run(syncs.get, ctx.db, ws.workspace_id, audience_id, before)
        if after is None or after.destination_id != destination_id:
            raise InvalidRequest(f"before: no sync {before!r} of this destination", field="before")
    found = await ctx.run(
        syncs.recent, ctx.db, ws.workspace_id, audience_id, destination_id, limit, after
    )
    more = found[-1].sync_id if len(found) == limit else None
    return PageBefore[SyncPublic](data=[views.sync(s) for s in found], next_before=more)


async def _last_sync(ctx: ApiContext, d: Destination) -> Sync | None:
    found = await ctx.run(syncs.recent, ctx.db, d.workspace_id, d.audience_id, d.destination_id, 1)
    return found[0] if found else None
