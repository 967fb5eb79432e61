"""/app/audiences/{id}/destinations: connecting a destination to an audience, a
destination's page with its sync history, and what can be done with it: sync now, pause
or resume, remove.

Like the audience's own actions, each is a form post to the API's use case
(`destinations.create`, `update`, `sync_now`, `remove`) followed by a redirect back, with
the session's workspace in every call: another workspace's audience or destination is the
404 page. A refused connection comes back as the audience page with the form filled in
again (credentials excepted) and the refusal next to the field it is about. A webhook
signing secret made by the API is shown once, on the page that answers the form. Removing
asks for confirmation on a page of its own, which works without script.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from gurulu.common.errors import GuruluError
from gurulu.common.store.syncs import Sync

from .. import destinations as cases
from ..deps import ContextDep
from ..destination_schemas import DestinationUpdate
from . import destination_form, reads
from .deps import Form, SignedIn, session_of
from .rendering import SECURITY_HEADERS, acted, flash, fragment, page
from .session import PREFIX

router = APIRouter(
    prefix=f"{PREFIX}/audiences/{{audience_id}}/destinations", include_in_schema=False
)
Syncs = Query(default=reads.RECENT_SYNCS, ge=1, le=reads.MAX_SYNCS)


@router.post("")
async def connect(
    request: Request, audience_id: str, ws: SignedIn, ctx: ContextDep, form: Form
) -> Response:
    try:
        body = destination_form.request(form)
        made, secret, first = await cases.create(ctx, ws.workspace_id, audience_id, body)
    except GuruluError as error:
        if error.status == 404:
            raise
        detail = await reads.audience_detail(ctx, ws.workspace_id, audience_id)
        connect = destination_form.refused(form, error)
        status = 503 if error.status == 503 else 422
        return page(request, "audience.html", status, workspace=ws, detail=detail, connect=connect)
    if secret is None:
        flash(request, _connected(made.name, first), at="destinations")
        return RedirectResponse(f"{PREFIX}/audiences/{audience_id}#destinations", status_code=303)
    flash(request, _connected(made.name, first))
    # The one time the secret can be seen: on this answer, never behind a redirect.
    found = await reads.destination_detail(ctx, ws.workspace_id, audience_id, made.destination_id)
    return page(request, "destination.html", 201, workspace=ws, detail=found, signing_secret=secret)


@router.get("/{destination_id}")
async def destination_page(
    request: Request,
    audience_id: str,
    destination_id: str,
    ws: SignedIn,
    ctx: ContextDep,
    syncs: int = Syncs,
) -> Response:
    found = await reads.destination_detail(ctx, ws.workspace_id, audience_id, destination_id, syncs)
    return page(request, "destination.html", workspace=ws, detail=found, signing_secret=None)


@router.get("/{destination_id}/live")
async def live(
    request: Request,
    audience_id: str,
    destination_id: str,
    ws: SignedIn,
    ctx: ContextDep,
    syncs: int = Syncs,
) -> JSONResponse:
    found = await reads.destination_detail(ctx, ws.workspace_id, audience_id, destination_id, syncs)
    csrf_token = session_of(request).csrf
    regions = {
        name: fragment(f"partials/destination_{name}.html", detail=found, csrf_token=csrf_token)
        for name in ("state", "syncs")
    }
    return JSONResponse({"busy": found.busy, "regions": regions}, headers=SECURITY_HEADERS)


@router.post("/{destination_id}/status")
async def set_status(
    request: Request,
    audience_id: str,
    destination_id: str,
    ws: SignedIn,
    ctx: ContextDep,
    form: Form,
) -> Response:
    wanted: Literal["active", "paused"] = "active" if form.get("status") == "active" else "paused"

    async def act() -> str:
        changed = await cases.update(
            ctx, ws.workspace_id, audience_id, destination_id, DestinationUpdate(status=wanted)
        )
        if wanted == "active":
            return f"Resumed “{changed.name}”. It catches up with one sync."
        return f"Paused “{changed.name}”. Nothing is sent to it until you resume it."

    return await _act(request, audience_id, destination_id, form, act)


@router.post("/{destination_id}/sync")
async def sync_now(
    request: Request,
    audience_id: str,
    destination_id: str,
    ws: SignedIn,
    ctx: ContextDep,
    form: Form,
) -> Response:
    async def act() -> str:
        await cases.sync_now(ctx, ws.workspace_id, audience_id, destination_id)
        return "Sync requested. Its counts appear here when it finishes."

    return await _act(request, audience_id, destination_id, form, act)


@router.get("/{destination_id}/remove")
async def remove_page(
    request: Request, audience_id: str, destination_id: str, ws: SignedIn, ctx: ContextDep
) -> Response:
    found = await reads.destination_detail(ctx, ws.workspace_id, audience_id, destination_id, 1)
    return page(request, "destination_remove.html", workspace=ws, detail=found)


@router.post("/{destination_id}/remove")
async def remove(
    request: Request,
    audience_id: str,
    destination_id: str,
    ws: SignedIn,
    ctx: ContextDep,
    form: Form,
) -> Response:
    found = await cases.get(ctx, ws.workspace_id, audience_id, destination_id)
    await cases.remove(ctx, ws.workspace_id, audience_id, destination_id)
    flash(
        request,
        f"Removed “{found.name}”. Nothing more is sent to it; the people it already has"
        " stay there.",
        at="destinations",
    )
    return RedirectResponse(f"{PREFIX}/audiences/{audience_id}#destinations", status_code=303)


def _connected(name: str, first: Sync | None) -> str:
    if first is None:
        return f"Connected “{name}”. It syncs after the audience's first refresh."
    return f"Connected “{name}”. Its first sync has started; its counts appear here when it ends."


async def _act(
    request: Request,
    audience_id: str,
    destination_id: str,
    form: dict[str, str],
    act: Callable[[], Awaitable[str]],
) -> Response:
    """Run an action; say how it went on the page it was asked from."""
    audience_page = f"{PREFIX}/audiences/{audience_id}"
    if form.get("from") == "destination":
        return await acted(request, f"{audience_page}/destinations/{destination_id}", act)
    return await acted(request, audience_page, act, at="destinations")
