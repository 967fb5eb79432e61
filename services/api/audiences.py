"""Audience use cases: promote a cohort, rename, pause and resume, archive, refresh now.

Names are unique among the workspace's audiences that are not archived. The plan quota
counts active audiences. A create or a resume checks and writes under one
workspace-wide Redis lock, so concurrent requests on any number of API replicas never
exceed the limit; reaching it refuses only new and resumed audiences, never running ones.
Archiving frees a slot.
"""

from __future__ import annotations

from dataclasses import replace

from redis.exceptions import RedisError

from gurulu.common import logs, metrics, requests
from gurulu.common.clock import utcnow
from gurulu.common.errors import Conflict, InvalidRequest, NotFound, QuotaExceeded
from gurulu.common.ids import new_id
from gurulu.common.store import audiences, cohorts, runs, workspaces
from gurulu.common.store.audiences import Audience
from gurulu.common.store.runs import Run

from . import cohorts as cohort_cases
from .context import ApiContext
from .schemas import one_line

# Every write of a workspace's audiences holds this lock: the quota check and the write
# it guards are one step, and two edits of one audience cannot undo each other.
AUDIENCES_LOCK = "audiences"
log = logs.get("gurulu.api")


async def create(
    ctx: ApiContext, workspace_id: str, name: str, source: str, sync: str = "hourly"
) -> tuple[Audience, Run]:
    name = _name(name)
    async with ctx.exclusive(AUDIENCES_LOCK, workspace_id):
        cohort = await ctx.run(cohorts.find, ctx.db, workspace_id, source)
        if cohort is None:
            raise NotFound(f"no cohort {source!r} in this workspace", field="source_cohort_id")
        await _check_name_free(ctx, workspace_id, name)
        await _check_quota(ctx, workspace_id)
        now = utcnow()
        audience = Audience(
            workspace_id, new_id("aud"), name, cohort.cohort_id, sync, "active", now, now
        )
        await ctx.run(audiences.save, ctx.db, audience)
    run = requests.queued(workspace_id, audience.audience_id, "created", now)
    await _request(ctx, run)
    return audience, run


async def _request(ctx: ApiContext, run: Run) -> None:
    """Record a refresh as owed, then announce it. Once recorded it is done whatever comes
    next: an announcement Redis cannot take (it is down) is sent again by the ticker's
    sweep when it is back (`GURULU_STUCK_AFTER_SECONDS`), so the request still succeeds."""
    await ctx.run(runs.record_requests, ctx.db, [run])
    try:
        await requests.announce(ctx.broker, ctx.redis, [run])
    except RedisError as error:
        log.warning(
            "refresh.announce_failed",
            workspace_id=run.workspace_id,
            audience_id=run.audience_id,
            run_id=run.run_id,
            error=str(error),
            then="the ticker sends it again when Redis is back",
        )


async def delete_cohort(ctx: ApiContext, workspace_id: str, cohort_id: str) -> None:
    """Delete a cohort that no audience is built on. It holds the audiences lock, as a
    create does, so an audience promoted from the cohort at the same moment either comes
    first (and the delete is refused) or finds the cohort gone — never both."""
    async with ctx.exclusive(AUDIENCES_LOCK, workspace_id):
        await ctx.run(cohort_cases.remove, ctx.db, workspace_id, cohort_id)


async def update(
    ctx: ApiContext,
    workspace_id: str,
    audience_id: str,
    name: str | None = None,
    status: str | None = None,
) -> Audience:
    async with ctx.exclusive(AUDIENCES_LOCK, workspace_id):
        audience = current = await get(ctx, workspace_id, audience_id)
        if name is not None:
            name = _name(name)
            await _check_name_free(ctx, workspace_id, name, audience.audience_id)
            audience = replace(audience, name=name)
        if status is not None and status != audience.status:
            if status == "active":
                await _check_quota(ctx, workspace_id)
            audience = replace(audience, status=status)
        # An edit that changes nothing is not an update: `updated_at` stays as it was.
        return audience if audience == current else await _save(ctx, audience)


async def archive(ctx: ApiContext, workspace_id: str, audience_id: str) -> None:
    async with ctx.exclusive(AUDIENCES_LOCK, workspace_id):
        audience = await get(ctx, workspace_id, audience_id)
        await _save(ctx, replace(audience, status="archived"))


async def refresh_now(ctx: ApiContext, workspace_id: str, audience_id: str) -> Run:
    """Request a refresh; while one asked for earlier has not begun, that one is the answer.
    It evaluates when it begins, after this request, so a second would change nothing but
    cost a refresh, and a sync of every destination."""
    audience = await get(ctx, workspace_id, audience_id)
    if audience.status != "active":
        raise Conflict(f"the audience is {audience.status}; resume it to refresh it")
    waiting = await ctx.run(runs.waiting, ctx.db, workspace_id, audience_id, "manual")
    if waiting is not None:
        return waiting
    run = requests.queued(workspace_id, audience_id, "manual", utcnow())
    await _request(ctx, run)
    return run


async def get(ctx: ApiContext, workspace_id: str, audience_id: str) -> Audience:
    audience = await ctx.run(audiences.get, ctx.db, workspace_id, audience_id)
    if audience is None:
        raise NotFound(f"no audience {audience_id!r} in this workspace")
    return audience


async def quota(ctx: ApiContext, workspace_id: str) -> tuple[str, int, int | None]:
    """(plan, active audiences, limit or None when unlimited)."""
    workspace = await ctx.run(workspaces.get, ctx.db, workspace_id)
    if workspace is None:
        raise NotFound("this workspace no longer exists")
    used = await ctx.run(audiences.count_active, ctx.db, workspace_id)
    return workspace.plan, used, workspace.audience_limit


async def _check_quota(ctx: ApiContext, workspace_id: str) -> None:
    plan, used, limit = await quota(ctx, workspace_id)
    if limit is not None and used >= limit:
        metrics.QUOTA_REJECTIONS.labels("audiences", plan).inc()
        raise QuotaExceeded(
            f"the {plan} plan allows {limit} active audiences and {used} are active;"
            " pause or archive one, or upgrade the plan",
            dimension="audiences",
            limit=limit,
            used=used,
            plan=plan,
        )


async def _check_name_free(
    ctx: ApiContext, workspace_id: str, name: str, other_than: str = ""
) -> None:
    """Names tell audiences apart in lists, exports and destinations: two that are not
    archived never share one (in any case)."""
    if await ctx.run(audiences.name_taken, ctx.db, workspace_id, name, other_than):
        raise Conflict(f"an audience named {name!r} already exists", field="name")


async def _save(ctx: ApiContext, audience: Audience) -> Audience:
    saved = replace(audience, updated_at=utcnow())
    await ctx.run(audiences.save, ctx.db, saved)
    return saved


def _name(name: str) -> str:
    try:
        return one_line(name)
    except ValueError as error:
        raise InvalidRequest(f"an audience's name {error}", field="name") from None
