"""Admin routes (the admin token): workspaces, their plans and their secret keys.

Keys rotate without downtime: issue a new key, move the workspace's clients to it, then
revoke the old one. A revoked key stops working at once on the replica that revoked it and
within half a minute on the others (each remembers a verified key that long), and the web
app's sessions signed in with it end at once. The
last key of a workspace cannot be revoked: issue its successor first."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Request, Response

from gurulu.common.clock import utcnow
from gurulu.common.errors import Conflict, NotFound
from gurulu.common.store import audiences as audience_store
from gurulu.common.store import workspaces

from ..bodies import JsonRoute
from ..context import ApiContext
from ..deps import AdminDep, ContextDep
from ..openapi import errors
from ..schemas import (
    KeyCreated,
    KeyPublic,
    Page,
    WorkspaceChanged,
    WorkspaceCreate,
    WorkspaceCreated,
    WorkspacePublic,
    WorkspaceUpdate,
)

router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    dependencies=[AdminDep],
    route_class=JsonRoute,
    responses=errors(401, 415, 422),
)
KEYS_LOCK = "keys"


@router.post("/workspaces", status_code=201)
async def create_workspace(body: WorkspaceCreate, ctx: ContextDep) -> WorkspaceCreated:
    workspace, key = await ctx.run(workspaces.create, ctx.db, body.name, body.plan)
    return WorkspaceCreated(
        workspace_id=workspace.workspace_id,
        name=workspace.name,
        plan=workspace.plan,
        secret_key=key,
    )


@router.get("/workspaces")
async def list_workspaces(ctx: ContextDep) -> Page[WorkspacePublic]:
    found = await ctx.run(workspaces.list_all, ctx.db)
    return Page[WorkspacePublic](
        data=[WorkspacePublic(workspace_id=w.workspace_id, name=w.name, plan=w.plan) for w in found]
    )


@router.get("/workspaces/{workspace_id}/keys", responses=errors(404))
async def list_keys(workspace_id: str, ctx: ContextDep) -> Page[KeyPublic]:
    await _workspace(ctx, workspace_id)
    found = await ctx.run(workspaces.keys, ctx.db, workspace_id)
    return Page[KeyPublic](
        data=[KeyPublic(key_id=k.key_id, created_at=k.created_at) for k in found]
    )


@router.post("/workspaces/{workspace_id}/keys", status_code=201, responses=errors(404))
async def issue_key(workspace_id: str, ctx: ContextDep) -> KeyCreated:
    await _workspace(ctx, workspace_id)
    key, made = await ctx.run(workspaces.issue_key, ctx.db, workspace_id)
    return KeyCreated(key_id=made.key_id, created_at=made.created_at, secret_key=key)


@router.delete(
    "/workspaces/{workspace_id}/keys/{key_id}", status_code=204, responses=errors(404, 409, 503)
)
async def revoke_key(workspace_id: str, key_id: str, request: Request, ctx: ContextDep) -> Response:
    await _workspace(ctx, workspace_id)
    async with ctx.exclusive(KEYS_LOCK, workspace_id):
        held = await ctx.run(workspaces.keys, ctx.db, workspace_id)
        if key_id not in {k.key_id for k in held}:
            raise NotFound(f"workspace {workspace_id!r} has no key {key_id!r}")
        if len(held) == 1:
            raise Conflict("this is the workspace's last key: issue another before revoking it")
        await ctx.run(workspaces.revoke_key, ctx.db, workspace_id, key_id)
    request.app.state.key_cache.forget(key_id)
    return Response(status_code=204)


async def _workspace(ctx: ApiContext, workspace_id: str) -> workspaces.Workspace:
    found = await ctx.run(workspaces.get, ctx.db, workspace_id)
    if found is None:
        raise NotFound(f"no workspace {workspace_id!r}")
    return found


@router.patch("/workspaces/{workspace_id}", responses=errors(404))
async def update_workspace(
    workspace_id: str, body: WorkspaceUpdate, ctx: ContextDep
) -> WorkspaceChanged:
    workspace = await _workspace(ctx, workspace_id)
    changed = replace(workspace, plan=body.plan, updated_at=utcnow())
    await ctx.run(workspaces.save, ctx.db, changed)
    active = await ctx.run(audience_store.count_active, ctx.db, workspace_id)
    return WorkspaceChanged(
        workspace_id=changed.workspace_id,
        name=changed.name,
        plan=changed.plan,
        active_audiences=active,
        audience_limit=changed.audience_limit,
    )
