"""What every client command shares: the global options, the `--json` flag, and
`session`, which opens a client for one command and turns any failure into an exit.

The global options (`--api-url`, `--key`) are read once by the root callback into a
`Target` kept on typer's context, so a sub-command never reads the environment itself and
nothing touches the network before a command runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

import typer

from .. import output
from ..client import ApiError, CannotConnect, Client, Target

Json = Annotated[
    bool, typer.Option("--json", help="Print the API's JSON response as is, for scripts.")
]
Match = Annotated[
    Literal["all", "any"],
    typer.Option("--match", help="Whether people must match all the rules or any one."),
]
Rules = Annotated[
    list[str],
    typer.Option(
        "--rule",
        help="A rule, e.g. 'event:add_to_cart in last 7d'; repeat for more rules.",
        show_default=False,
    ),
]


def options(
    ctx: typer.Context,
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url",
            envvar="GURULU_API_URL",
            help="Base URL of the Gurulu API (default http://127.0.0.1:8080).",
            show_default=False,
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            envvar="GURULU_SECRET_KEY",
            help="The workspace's secret key.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Gurulu Audiences: live audiences from cohorts."""
    ctx.obj = Target.from_env(api_url, key)


def target(ctx: typer.Context) -> Target:
    found = ctx.find_object(Target)
    return found if found is not None else Target.from_env()


@contextmanager
def session(ctx: typer.Context, admin: bool = False) -> Iterator[Client]:
    """A client for one command; API and connection errors end the command with their
    message on stderr (the API's error object under `--json`) and their exit code."""
    try:
        with Client(target(ctx), admin=admin) as client:
            yield client
    except (ApiError, CannotConnect) as error:
        output.fail(error, as_json=bool(ctx.params.get("json")))
