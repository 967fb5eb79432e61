"""Signing in with a workspace's secret key, and signing out.

The key is checked exactly as the API checks a bearer key; only the workspace id (and a new
session id) goes into the session. A new session (and CSRF token) is issued at sign-in, so
nothing planted in a browser before it carries over; signing out ends the session on the
server too.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gurulu.common.clock import utcnow
from gurulu.common.store import web_sessions, workspaces

from ..deps import ContextDep
from .deps import Form, session_of
from .rendering import flash, page
from .session import MAX_AGE_SECONDS, PREFIX

router = APIRouter(prefix=PREFIX, include_in_schema=False)
root = APIRouter(include_in_schema=False)
HOME = f"{PREFIX}/audiences"


def _safe_next(target: str | None) -> str:
    """Only a path of this app: never another site (`//evil`, `https://…`)."""
    if (
        target
        and target.startswith(PREFIX + "/")
        and "\\" not in target
        and not target.startswith(f"{PREFIX}/login")
    ):
        return target
    return HOME


@root.get("/")
@router.get("")
async def home() -> RedirectResponse:
    """The URL `gurulu up` prints leads to the app."""
    return RedirectResponse(HOME, status_code=303)


@router.get("/login")
async def login_page(request: Request, next: str | None = None, unsaved: bool = False) -> Response:
    if session_of(request).signed_in_as is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    notice = (
        "You were signed out, so that change was not made. Sign in, then make it again."
        if unsaved
        else None
    )
    return page(
        request,
        "login.html",
        workspace=None,
        next=_safe_next(next),
        unsaved=unsaved,
        error=None,
        notice=notice,
    )


@router.post("/login")
async def login(request: Request, ctx: ContextDep, form: Form) -> Response:
    key = form.get("secret_key", "").strip()
    target = _safe_next(form.get("next"))
    unsaved = form.get("unsaved") == "1"
    workspace = await ctx.run(workspaces.authenticate, ctx.db, key) if key else None
    if workspace is None:
        error = (
            "Enter your workspace's secret key."
            if not key
            else "That secret key is not valid. Check that you copied all of it: it starts"
            " with gsk_ and was printed once when the workspace was created."
        )
        return page(
            request,
            "login.html",
            401,
            workspace=None,
            next=target,
            unsaved=unsaved,
            error=error,
            notice=None,
        )
    session_of(request).sign_in(workspace.workspace_id, workspaces.key_id_of(key))
    if unsaved:
        flash(
            request,
            "You are signed in again. The change you sent while signed out was not made:"
            " send it again.",
            kind="warning",
            restore=True,
        )
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
async def logout(request: Request, ctx: ContextDep, form: Form) -> RedirectResponse:
    """Sign out here, and end the session on the server: a copy of its cookie taken before
    (another tab, a stolen copy) no longer signs anyone in."""
    session = session_of(request)
    claimed = session.signed_in_as
    if claimed is not None:
        expires = utcnow() + timedelta(seconds=MAX_AGE_SECONDS)
        await ctx.run(web_sessions.end, ctx.db, *claimed, expires)
    session.restart()
    flash(request, "You are signed out.")
    return RedirectResponse(f"{PREFIX}/login", status_code=303)
