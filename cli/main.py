"""The `gurulu` command: the client of the HTTP API, and the commands that start the
system."""

from __future__ import annotations

import typer

from . import run
from .commands import admin, audience, cohort, common, destination, quota

app = typer.Typer(help="Gurulu Audiences: live audiences from cohorts.", no_args_is_help=True)
app.callback()(common.options)
app.command()(run.up)
app.command()(run.serve)
app.add_typer(cohort.app, name="cohort")
app.add_typer(audience.app, name="audience")
app.add_typer(destination.app, name="destination")
app.command()(quota.quota)
app.add_typer(admin.app, name="admin")

if __name__ == "__main__":
    app()
