"""/app/audiences/{id}: one audience's movement, refresh runs, recent members and
destinations, and what can be done with it: refresh now, pause or resume, rename, archive,
download CSV. (Its destinations' own routes are in `destination_pages`.)

Each action is a plain form post to the API's use case followed by a redirect back
(post/redirect/get), so a reload never repeats it; refusals (a paused audience cannot
refresh, a resume over the quota) come back as a message on the page. Archiving asks for
confirmation on a page of its own, which works without script. The CSV is the API's own
export stream, authenticated by the session instead of a bearer key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from gurulu.common.store import destinations as destination_store

from .. import audiences, export
from ..deps import ContextDep
from . import format, reads
from .deps import Form, SignedIn, session_of
from .destination_form import Connect
from .rendering import SECURITY_HEADERS, acted, flash, fragment, page
from .session import PREFIX

router = APIRouter(prefix=f"{PREFIX}/audiences", include_in_schema=False)


def _within(name: str, default: int, low: int, high: int) -> Any:
    """A page's number in its address (`?days=`, `?runs=`), read leniently: a link that
    was edited by hand or cut short shows the page with the default or the nearest bound,
    rather than an error that no reload can fix."""

    def read(request: Request) -> int:
        try:
            value = int(request.query_params.get(name, default))
        except ValueError:
            return default
        return min(max(value, low), high)

    return Depends(read)


Days = _within("days", reads.TREND_DAYS, 7, 90)
Runs = _within("runs", reads.RECENT_RUNS, 1, reads.MAX_RUNS)


@router.get("/{audience_id}")
async def detail_page(
    request: Request,
    audience_id: str,
    ws: SignedIn,
    ctx: ContextDep,
    days: int = Days,
    runs: int = Runs,
) -> Response:
    detail = await reads.audience_detail(ctx, ws.workspace_id, audience_id, days, runs)
    return page(request, "audience.html", workspace=ws, detail=detail, connect=Connect())


@router.get("/{audience_id}/live")
async def live(
    request: Request,
    audience_id: str,
    ws: SignedIn,
    ctx: ContextDep,
    days: int = Days,
    runs: int = Runs,
) -> JSONResponse:
    detail = await reads.audience_detail(ctx, ws.workspace_id, audience_id, days, runs)
    csrf_token = session_of(request).csrf  # the destinations' action buttons are forms
    regions = {
        name: fragment(f"partials/audience_{name}.html", detail=detail, csrf_token=csrf_token)
        for name in ("summary", "chart", "runs", "people", "destinations")
    }
    return JSONResponse({"busy": detail.busy, "regions": regions}, headers=SECURITY_HEADERS)


@router.post("/{audience_id}/refresh")
async def refresh(
    request: Request, audience_id: str, ws: SignedIn, ctx: ContextDep, form: Form
) -> Response:
    async def act() -> str:
        await audiences.refresh_now(ctx, ws.workspace_id, audience_id)
        return "Refresh requested. The run below updates as it goes."

    return await _act(request, audience_id, act)


@router.post("/{audience_id}/status")
async def set_status(
    request: Request, audience_id: str, ws: SignedIn, ctx: ContextDep, form: Form
) -> Response:
    wanted = "active" if form.get("status") == "active" else "paused"

    async def act() -> str:
        await audiences.update(ctx, ws.workspace_id, audience_id, status=wanted)
        if wanted == "active":
            every = format.every(ctx.settings.tick_interval_seconds)
            return f"Resumed. It refreshes again on its schedule, {every}."
        return "Paused. Its members stay as they are until you resume it."

    return await _act(request, audience_id, act)


@router.post("/{audience_id}/rename")
async def rename(
    request: Request, audience_id: str, ws: SignedIn, ctx: ContextDep, form: Form
) -> Response:
    async def act() -> str:
        changed = await audiences.update(
            ctx, ws.workspace_id, audience_id, name=form.get("name", "")
        )
        return f"Renamed to “{changed.name}”."

    return await _act(request, audience_id, act)


@router.get("/{audience_id}/archive")
async def archive_page(
    request: Request, audience_id: str, ws: SignedIn, ctx: ContextDep
) -> Response:
    audience = await audiences.get(ctx, ws.workspace_id, audience_id)
    connected = await ctx.run(
        destination_store.of_audience, ctx.db, ws.workspace_id, audience.audience_id
    )
    return page(request, "archive.html", workspace=ws, audience=audience, destinations=connected)


@router.post("/{audience_id}/archive")
async def archive(
    request: Request, audience_id: str, ws: SignedIn, ctx: ContextDep, form: Form
) -> Response:
    audience = await audiences.get(ctx, ws.workspace_id, audience_id)
    await audiences.archive(ctx, ws.workspace_id, audience_id)
    flash(request, f"Archived “{audience.name}”. Its slot in your plan is free again.")
    return RedirectResponse(f"{PREFIX}/audiences", status_code=303)


@router.get("/{audience_id}/export.csv", response_class=StreamingResponse)
async def export_members(audience_id: str, ws: SignedIn, ctx: ContextDep) -> StreamingResponse:
    audience = await audiences.get(ctx, ws.workspace_id, audience_id)
    return StreamingResponse(
        export.member_rows(ctx.db, ws.workspace_id, audience.audience_id),
        media_type="text/csv; charset=utf-8",
        headers=export.download_headers(audience),
    )


async def _act(request: Request, audience_id: str, act: Callable[[], Awaitable[str]]) -> Response:
    """Run an action; say how it went on the audience's page."""
    return await acted(request, f"{PREFIX}/audiences/{audience_id}", act)
