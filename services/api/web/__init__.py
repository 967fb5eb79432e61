"""The web app marketers use: /app/cohorts and /app/audiences (with each audience's
destinations), served by the API process.

Pages are rendered on the server with Jinja2 from the package's templates, styled by one
hand-written stylesheet, and enhanced by a little vanilla JavaScript (the rule builder and
its live preview, polling while a refresh runs, relative times): no build step, no CDN, no
request leaves the app at run time. Charts are inline SVG drawn on the server. Every route
is a thin translation onto the same use cases and stores as the HTTP API (`cohorts.define`,
`audiences.create`, …), scoped to the workspace of a signed, HttpOnly session cookie, with
a CSRF token on every state-changing request.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from . import (
    audience_detail,
    audience_pages,
    auth_pages,
    builder,
    cohort_pages,
    destination_pages,
    errors,
)
from .rendering import STATIC, STATIC_PREFIX
from .session import Sessions, signing_key


def install(app: FastAPI, admin_token: str | None) -> None:
    # The builder's /preview and the list's /live must match before the `{id}` routes.
    app.include_router(auth_pages.root)
    pages = (auth_pages, builder, cohort_pages, audience_pages, audience_detail, destination_pages)
    for module in pages:
        app.include_router(module.router)
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC), name="web-static")
    app.add_middleware(Sessions, key=signing_key(admin_token))
    errors.install(app)
