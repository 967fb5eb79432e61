"""/app/audiences: the list with its trends and the quota, and promoting a cohort to a
new audience.

A new audience is saved and its first refresh requested by the API's `audiences.create`;
the page shows it at once as "refreshing". While any audience's newest run is queued or
running, the page's script polls `/app/audiences/live` every two seconds, which answers
the table body and the quota rendered by the same templates as the page; polling stops
when nothing is in flight. Polling was chosen over server-sent events because it needs no
long-lived connection through proxies and stops costing anything once the refresh is done.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from gurulu.common.errors import GuruluError, QuotaExceeded
from gurulu.common.store.workspaces import Workspace

from .. import audiences
from ..deps import ContextDep
from . import reads
from .deps import Form, SignedIn
from .rendering import SECURITY_HEADERS, flash, fragment, page
from .session import PREFIX

router = APIRouter(prefix=f"{PREFIX}/audiences", include_in_schema=False)


@router.get("")
async def list_page(
    request: Request, ws: SignedIn, ctx: ContextDep, source: str | None = None
) -> Response:
    return await _list(request, ctx, ws, {"source_cohort_id": source or ""}, None)


@router.get("/live")
async def live(ws: SignedIn, ctx: ContextDep) -> JSONResponse:
    listed = await reads.audience_list(ctx, ws.workspace_id)
    regions = {
        "audience-rows": fragment("partials/audience_rows.html", listed=listed),
        "quota": fragment("partials/quota.html", quota=listed.quota),
    }
    return JSONResponse({"busy": listed.busy, "regions": regions}, headers=SECURITY_HEADERS)


@router.post("")
async def create(request: Request, ws: SignedIn, ctx: ContextDep, form: Form) -> Response:
    try:
        audience, _ = await audiences.create(
            ctx,
            ws.workspace_id,
            form.get("name", ""),
            form.get("source_cohort_id", ""),
            form.get("sync", "hourly"),
        )
    except GuruluError as error:
        return await _list(request, ctx, ws, form, error)
    flash(
        request,
        f"“{audience.name}” is live. Its first refresh is running; the member count fills"
        " in here as soon as it finishes.",
    )
    # Back to the top of the list: the message, then the new audience, which lists first.
    return RedirectResponse(f"{PREFIX}/audiences", status_code=303)


async def _list(
    request: Request,
    ctx: ContextDep,
    ws: Workspace,
    form: dict[str, str],
    error: GuruluError | None,
) -> Response:
    listed = await reads.audience_list(ctx, ws.workspace_id)
    status = 200
    if error is not None:
        # The page itself was found: an unknown source cohort is a problem of the form.
        status = 422 if error.status == 404 else error.status
    return page(
        request,
        "audiences.html",
        status,
        workspace=ws,
        listed=listed,
        form=form,
        form_error=_said(error),
        form_field=(error.details.get("field") if error else None),
    )


def _said(error: GuruluError | None) -> str | None:
    if error is None:
        return None
    if isinstance(error, QuotaExceeded):
        return (
            f"Your {error.details['plan'].capitalize()} plan allows {error.details['limit']}"
            " active audiences, and all of them are in use. Pause or archive one to make room."
        )
    message = error.message
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
