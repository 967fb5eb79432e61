"""Admin routes (the admin token): workspaces and their plans."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter

from gurulu.common.clock import utcnow
from gurulu.common.errors import NotFound
from gurulu.common.store import workspaces

from ..bodies import JsonRoute
from ..deps import AdminDep, ContextDep
from ..openapi import errors
from ..schemas import WorkspaceCreate, WorkspaceCreated, WorkspacePublic, WorkspaceUpdate

router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    dependencies=[AdminDep],
    route_class=JsonRoute,
    responses=errors(401, 422),
)


@router.post("/workspaces", status_code=201)
async def create_workspace(body: WorkspaceCreate, ctx: ContextDep) -> WorkspaceCreated:
    workspace, key = await ctx.run(workspaces.create, ctx.db, body.name, body.plan)
    return WorkspaceCreated(
        workspace_id=workspace.workspace_id,
        name=workspace.name,
        plan=workspace.plan,
        secret_key=key,
    )


@router.patch("/workspaces/{workspace_id}", responses=errors(404))
async def update_workspace(
    workspace_id: str, body: WorkspaceUpdate, ctx: ContextDep
) -> WorkspacePublic:
    workspace = await ctx.run(workspaces.get, ctx.db, workspace_id)
    if workspace is None:
        raise NotFound(f"no workspace {workspace_id!r}")
    changed = replace(workspace, plan=body.plan, updated_at=utcnow())
    await ctx.run(workspaces.save, ctx.db, changed)
    return WorkspacePublic(workspace_id=changed.workspace_id, name=changed.name, plan=changed.plan)
