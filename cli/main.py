"""The `gurulu` command: the client of the HTTP API, and the commands that start the
system."""

from __future__ import annotations

import typer

from . import run

app = typer.Typer(help="Gurulu Audiences: live audiences from cohorts.", no_args_is_help=True)
app.command()(run.up)
app.command()(run.serve)

if __name__ == "__main__":
    app()
