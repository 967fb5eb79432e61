"""What the web app's routes depend on: the session, the signed-in workspace, and request
bodies that carry a valid CSRF token.

Pages and their JSON endpoints are scoped exactly as the API is: the workspace comes from
the session and goes into every use case and store call, so another workspace's ids are
simply not found. Forms are URL-encoded and parsed here with the standard library, which
keeps the app free of a multipart dependency it has no use for (nothing is uploaded).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request

from gurulu.common.store import web_sessions
from gurulu.common.store.workspaces import Workspace

from ..bodies import UnreadableBody, read_json
from ..deps import ContextDep
from .session import CSRF_FIELD, CSRF_HEADER, Session

MAX_FIELDS = 500


class SignInRequired(Exception):
    """No signed-in workspace: pages redirect to the sign-in page, JSON answers 401."""


class CsrfRefused(Exception):
    """A state-changing request without the session's CSRF token."""


class BadForm(Exception):
    """A body that is not a form (or JSON) at all."""


def session_of(request: Request) -> Session:
    session = getattr(request.state, "session", None)
    if not isinstance(session, Session):  # the Sessions middleware is not installed
        raise SignInRequired
    return session


async def signed_in(request: Request, ctx: ContextDep) -> Workspace:
    """The session's workspace, in one query that also refuses a session signed out of
    (from any copy of its cookie). A session refused is forgotten, so that the sign-in page
    it is sent to does not send it straight back."""
    session = session_of(request)
    claimed = session.signed_in_as
    workspace = None
    if claimed is not None:
        workspace = await ctx.run(
            web_sessions.signed_in_workspace, ctx.db, *claimed, session.key_id
        )
    if workspace is None:
        if "ws" in session:
            session.restart()
        raise SignInRequired
    request.state.workspace_id = workspace.workspace_id
    return workspace


async def read_form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != "application/x-www-form-urlencoded":
        raise BadForm("expected a form")
    try:
        pairs = parse_qsl(
            (await request.body()).decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError) as error:
        raise BadForm("the form could not be read") from error
    return dict(pairs)


async def checked_form(request: Request) -> dict[str, str]:
    form = await read_form(request)
    if not session_of(request).csrf_matches(form.get(CSRF_FIELD)):
        raise CsrfRefused
    return form


async def checked_json(request: Request) -> Any:
    if not session_of(request).csrf_matches(request.headers.get(CSRF_HEADER)):
        raise CsrfRefused
    try:
        return await read_json(request)
    except UnreadableBody as error:
        raise BadForm(f"{error.field}: {error.message}") from error


SignedIn = Annotated[Workspace, Depends(signed_in)]
Form = Annotated[dict[str, str], Depends(checked_form)]
JsonBody = Annotated[Any, Depends(checked_json)]
