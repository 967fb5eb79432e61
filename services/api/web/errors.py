"""Errors under /app answer as pages, not as the API's JSON: not signed in redirects to
the sign-in page, an unknown or foreign id is the app's 404 page, a missing CSRF token a
403 page. Requests that ask for JSON (the app's own fetches) get the API's error shape.

The app's handlers wrap the API's: a request outside /app is handled exactly as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException

from gurulu.common import logs
from gurulu.common.errors import GuruluError

from ..errors import error_response
from .deps import BadForm, CsrfRefused, SignInRequired, session_of
from .rendering import flash, page
from .session import PREFIX

log = logs.get("gurulu.api.web")
Handler = Callable[[Request, Exception], Awaitable[Response]]
ApiHandler = Callable[[Request, Any], Any]

_TITLES = {
    400: "That request could not be read",
    403: "This form has expired",
    404: "Not found",
    405: "Not found",
    503: "Not available right now",
}


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _is_app(request: Request) -> bool:
    path = request.url.path
    return path == PREFIX or path.startswith(PREFIX + "/")


def _status_and_message(error: Exception) -> tuple[int, str]:
    if isinstance(error, GuruluError):
        return error.status, error.message
    if isinstance(error, CsrfRefused):
        return 403, "Reload the page and try again: the form was older than your session."
    if isinstance(error, BadForm | RequestValidationError):
        return 400, "The form was not sent as expected. Reload the page and try again."
    if isinstance(error, HTTPException):
        return error.status_code, "There is no page at this address."
    if isinstance(error, RedisError):
        return 503, "Gurulu cannot reach Redis right now. Try again in a moment."
    return 500, "Something went wrong on our side. Try again in a moment."


def _sign_in_again(request: Request) -> str:
    """The sign-in page, leading back to where the signed-out request came from: the page
    itself for a GET; for a form sent (an action, at an address that only takes POST), the
    page it was sent from, saying that the change was not made."""
    if request.method in ("GET", "HEAD"):
        target, lost = request.url.path, False
        if request.url.query:
            target += "?" + request.url.query
    else:
        target, lost = _page_sent_from(request), True
    login = f"{PREFIX}/login?next={quote(target, safe='/')}"
    return login + ("&unsaved=1" if lost else "")


def _page_sent_from(request: Request) -> str:
    return _app_page_of_referer(request) or f"{PREFIX}/audiences"


def _app_page_of_referer(request: Request) -> str | None:
    """The page of this app a request was sent from, if its browser says so."""
    referer = urlsplit(request.headers.get("referer", ""))
    same_site = referer.netloc == request.url.netloc
    if same_site and referer.path.startswith(PREFIX + "/"):
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return None


def _form_older_than_session(request: Request) -> Response | None:
    """A form of this app sent with the token of an earlier session (signed out and in
    again since it was opened, in this tab or another): back to its page, saying that the
    change was not made; the page puts back what was typed (app.js). A post from anywhere
    else (a forgery) gets the 403 page."""
    sent_from = _app_page_of_referer(request)
    if request.method != "POST" or sent_from is None:
        return None
    try:
        session = session_of(request)
    except SignInRequired:  # no session at all (the middleware did not run)
        return None
    if urlsplit(sent_from).path == f"{PREFIX}/login":
        # Signed in meanwhile (in another tab), the sign-in page sends it on to `next`.
        if session.signed_in_as is None:
            flash(request, "That sign-in page had expired. Sign in again.", kind="warning")
    elif session.signed_in_as is None:
        return RedirectResponse(_sign_in_again(request), status_code=303)
    else:
        flash(
            request,
            "That form was older than your session (you signed in again after opening it),"
            " so the change was not made. Send it again.",
            kind="warning",
            restore=True,
        )
    return RedirectResponse(sent_from, status_code=303)


async def _app_error(request: Request, error: Exception) -> Response:
    if isinstance(error, SignInRequired):
        if wants_json(request):
            return error_response(401, "unauthorized", "sign in again")
        return RedirectResponse(_sign_in_again(request), status_code=303)
    if isinstance(error, CsrfRefused) and not wants_json(request):
        back = _form_older_than_session(request)
        if back is not None:
            return back
    status, message = _status_and_message(error)
    if status == 500:
        log.exception("web.unexpected_error", path=request.url.path)
    if wants_json(request):
        return error_response(status, "error", message)
    if status == 404:
        message = "There is nothing at this address in your workspace. It may have been archived."
    title = _TITLES.get(status, "Something went wrong")
    try:
        return page(request, "error.html", status, title=title, message=message, workspace=None)
    except SignInRequired:  # no session at all (the middleware did not run)
        return error_response(status, "error", message)


def _either(api: ApiHandler | None) -> Handler:
    async def handle(request: Request, error: Exception) -> Response:
        if _is_app(request) or api is None:
            return await _app_error(request, error)
        return await api(request, error)

    return handle


def install(app: FastAPI) -> None:
    for kind in (GuruluError, RequestValidationError, HTTPException, RedisError, Exception):
        app.add_exception_handler(kind, _either(app.exception_handlers.get(kind)))
    for kind in (SignInRequired, CsrfRefused, BadForm):
        app.add_exception_handler(kind, _app_error)
