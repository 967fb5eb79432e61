"""The API application: the contract's routes over the use cases, with one error format.
The app builds no clients: the process's runtime passes in its context."""

from __future__ import annotations

from fastapi import FastAPI

from . import docs, errors, web
from .context import ApiContext
from .deps import KeyCache
from .middleware import RequestContext
from .routes import admin, audiences, cohorts, destinations, health, ingest

DESCRIPTION = """Live audiences from cohorts: define people by event and property rules,
promote a cohort to an audience that refreshes every hour, and follow who joined and left.
Authenticate with `Authorization: Bearer <workspace secret key>`."""


def create_app(context: ApiContext) -> FastAPI:
    app = FastAPI(
        title="Gurulu Audiences",
        version="1",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    app.state.context = context
    app.state.key_cache = KeyCache()
    errors.install(app)
    docs.install(app)
    for module in (health, admin, ingest, cohorts, audiences, destinations):
        app.include_router(module.router)
    token = context.settings.admin_token
    web.install(app, token.get_secret_value() if token else None)
    app.add_middleware(RequestContext)
    return app
