"""Rendering: one Jinja2 environment over the package's templates, with autoescaping,
undefined names as errors, and the format filters.

A page gets the session's CSRF token and flash message, the signed-in workspace and the
static URLs (with a content hash, so a new release is never served stale CSS or JS from a
cache). Every HTML response carries a Content Security Policy that allows nothing from
another origin and no inline script: the app's JS lives in static files, and the data it
needs is embedded as `application/json`, which browsers do not execute.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from gurulu.common.clock import utcnow
from gurulu.common.errors import GuruluError

from . import format
from .deps import session_of
from .destination_form import KINDS

HERE = Path(__file__).parent
STATIC = HERE / "static"
STATIC_PREFIX = "/app/static"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline';"
        " img-src 'self' data:; connect-src 'self'; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@cache
def static_url(name: str) -> str:
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"{STATIC_PREFIX}/{name}?v={digest}"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(format.FILTERS)
    env.globals["static"] = static_url
    env.globals["destination_fields"] = KINDS
    return env


ENV = _environment()


def fragment(template: str, **context: Any) -> str:
    """A template rendered on its own: a live region of a page, refreshed by script."""
    return ENV.get_template(template).render(now=utcnow(), **context)


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    session = session_of(request)
    html = ENV.get_template(template).render(
        csrf_token=session.csrf,
        flash=session.pop("flash", None),
        path=request.url.path,
        signed_in=session.signed_in_as is not None,
        now=utcnow(),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def flash(
    request: Request, message: str, kind: str = "notice", at: str = "", restore: bool = False
) -> None:
    """A message for the next page this session sees (after a redirect): at the top, or
    `at` the section of the page the action was asked from (and the redirect returns to).
    `restore` says that a form sent from that page was not acted on: the page's script
    puts back what was typed into it (app.js, drafts)."""
    said: dict[str, object] = {"message": message, "kind": kind, "at": at}
    if restore:
        said["restore"] = True
    session_of(request)["flash"] = said


async def acted(
    request: Request, back: str, act: Callable[[], Awaitable[str]], at: str = ""
) -> Response:
    """Run a page's action, then go back to `back` (and its section `at`) and say how it
    went there (post/redirect/get): a refusal as an error message, an unknown or foreign id
    as the 404 page."""
    try:
        flash(request, await act(), at=at)
    except GuruluError as error:
        if error.status == 404:
            raise
        message = error.message[:1].upper() + error.message[1:]
        message = message if message.endswith(".") else message + "."
        flash(request, message, kind="error", at=at)
    return RedirectResponse(f"{back}#{at}" if at else back, status_code=303)
