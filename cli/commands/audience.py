"""`gurulu audience`: promote a cohort to a live audience and look after it.

This module holds the commands about the audience itself (create, list, show, pause,
resume, refresh, delete); its history (`runs`, `changes`) and the member download
(`export`) live in their own modules and are registered on the same sub-app here, so the
command line stays one group while each file stays about one thing. Pausing and resuming
are the API's `PATCH {status}`; resuming counts against the plan's quota, so it can fail
with the same quota message as `create`.
"""

from __future__ import annotations

import json as jsonlib
import sys
import time
from typing import Annotated, Any, Literal

import typer

from .. import output
from ..client import ApiError, CannotConnect, Client, segment
from . import export, history
from .common import Json, session

app = typer.Typer(help="Audiences: live, hourly-refreshed member lists built from cohorts.")

AudienceId = Annotated[str, typer.Argument(help="The audience's id (aud_…).")]
SUMMARY_COLUMNS = ("ID", "Name", "Source cohort", "Status", "Members>", "Refreshed", "Next")


@app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="The audience's name.", show_default=False)],
    source_cohort: Annotated[
        str, typer.Option(help="The cohort (id or name) it keeps in sync.", show_default=False)
    ],
    sync: Annotated[Literal["hourly"], typer.Option(help="How often it refreshes.")] = "hourly",
    json: Json = False,
) -> None:
    """Promote a cohort to an active audience; its first refresh starts at once."""
    body = {"name": name, "source_cohort_id": source_cohort, "sync": sync}
    with session(ctx) as api:
        reply = api.post("/v1/audiences", body)
    output.emit(reply, json, _created)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        Literal["active", "paused"] | None,
        typer.Option(help="Only audiences with this status.", show_default=False),
    ] = None,
    json: Json = False,
) -> None:
    """List the workspace's audiences with their member counts."""
    with session(ctx) as api:
        reply = api.get("/v1/audiences", status=status)
    output.emit(reply, json, _table)


@app.command()
def show(ctx: typer.Context, audience: AudienceId, json: Json = False) -> None:
    """Show one audience: its source, status, members and refresh times."""
    with session(ctx) as api:
        reply = api.get(f"/v1/audiences/{segment(audience)}")
    output.emit(reply, json, lambda data: output.out.print(detail(data)))


@app.command()
def refresh(
    ctx: typer.Context,
    audience: AudienceId,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="Wait for the refresh to finish and show what it changed."),
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="With --wait, how many seconds to wait at most.", min=1)
    ] = 600,
    json: Json = False,
) -> None:
    """Refresh an active audience now rather than at the next hourly tick."""
    with session(ctx) as api:
        reply = api.post(f"/v1/audiences/{segment(audience)}/refresh")
        if not wait:
            output.emit(reply, json, _refresh_requested)
            return
        run = _finished(api, audience, reply.data["run_id"], timeout, json)
    if json:
        output.raw(jsonlib.dumps(run))
    else:
        _refreshed(run)
    if run["status"] != "succeeded":
        raise typer.Exit(output.GENERIC)


def _finished(api: Client, audience: str, run_id: str, timeout: float, as_json: bool) -> Any:
    """The run once it has finished, polled from the audience's runs; its status is shown
    as it goes (queued, running) when stderr is a terminal. An API that does not answer for
    a while (restarting, a dropped connection) is asked again; the run goes on without it.
    Exits if it takes too long."""
    deadline = time.monotonic() + timeout
    status = output.err.status(f"Refresh {run_id}: requested")
    if not as_json and sys.stderr.isatty():
        status.start()
    state = "requested"
    try:
        while True:
            try:
                page = api.get(f"/v1/audiences/{segment(audience)}/runs").data
            except (CannotConnect, ApiError) as error:
                if isinstance(error, ApiError) and 0 < error.status < 500:
                    raise
                page = None
            if page is not None:
                run = next((r for r in page["data"] if r["run_id"] == run_id), None)
                if run is not None and run["status"] in ("succeeded", "failed"):
                    return run
                state = run["status"] if run else "requested"
            if time.monotonic() > deadline:
                said = (
                    f"Refresh {run_id} is still {state} after {timeout:g} s; follow it with"
                    f" `gurulu audience runs {audience}`."
                )
                if as_json:
                    body = {"code": "still_running", "message": said, "run_id": run_id}
                    sys.stderr.write(jsonlib.dumps({"error": body}) + "\n")
                else:
                    output.err.print(said)
                raise typer.Exit(output.GENERIC)
            unanswered = " (the API did not answer; asking again)" if page is None else ""
            status.update(f"Refresh {run_id}: {state}{unanswered}")
            time.sleep(0.25 if page is not None else 1.0)
    finally:
        status.stop()


@app.command()
def pause(ctx: typer.Context, audience: AudienceId, json: Json = False) -> None:
    """Stop refreshing an audience; it keeps its members and frees its quota slot."""
    _set_status(ctx, audience, "paused", json)


@app.command()
def resume(ctx: typer.Context, audience: AudienceId, json: Json = False) -> None:
    """Resume a paused audience (it counts against the plan's quota again)."""
    _set_status(ctx, audience, "active", json)


@app.command()
def delete(ctx: typer.Context, audience: AudienceId, json: Json = False) -> None:
    """Archive an audience: it stops refreshing and frees its quota slot."""
    with session(ctx) as api:
        reply = api.delete(f"/v1/audiences/{segment(audience)}")
    output.emit(reply, json, lambda _: output.out.print(f"Archived audience {audience}."))


app.command()(history.runs)
app.command()(history.changes)
app.command()(export.export)


def _set_status(ctx: typer.Context, audience: str, status: str, json: bool) -> None:
    with session(ctx) as api:
        reply = api.patch(f"/v1/audiences/{segment(audience)}", {"status": status})
    verb = "Paused" if status == "paused" else "Resumed"
    output.emit(reply, json, lambda a: output.out.print(f"{verb} {_label(a)}."))


def _created(audience: dict[str, Any]) -> None:
    output.out.print(detail(audience))
    output.out.print(
        f"\n[green]Created audience[/] {_label(audience)}; its first refresh was requested."
        f"\nFollow it with `gurulu audience runs {audience['id']}`."
    )


def _refresh_requested(accepted: dict[str, Any]) -> None:
    output.out.print(f"Refresh requested: run [bold]{accepted['run_id']}[/]")


def _refreshed(run: dict[str, Any]) -> None:
    took = history.duration(run["duration_seconds"])
    if run["status"] != "succeeded":
        output.err.print(
            f"Refresh {run['run_id']} [bold red]failed[/]: {output.text(run['error'])}"
        )
        return
    members = run["member_count"]
    output.out.print(
        f"Refreshed in {took}: {output.count(members)} member{'' if members == 1 else 's'}"
        f" ({history.delta(run['joined_count'], 'green', '+')} joined,"
        f" {history.delta(run['left_count'], 'red', '-')} left); run [bold]{run['run_id']}[/]"
    )


def _table(page: dict[str, Any]) -> None:
    if not page["data"]:
        output.out.print("No audiences here. Promote a cohort with `gurulu audience create`.")
        return
    grid = output.table(*SUMMARY_COLUMNS)
    for a in page["data"]:
        grid.add_row(
            a["id"],
            output.text(a["name"]),
            output.text(a["source_cohort_name"] or a["source_cohort_id"]),
            output.status(a["status"]),
            output.count(a["member_count"]),
            output.relative(a["last_refreshed_at"]) if a["last_refreshed_at"] else "not yet",
            output.relative(a["next_refresh_at"]),
        )
    output.show(grid)


def detail(audience: dict[str, Any]) -> Any:
    source = audience["source_cohort_name"]
    cohort = f"{output.text(source)} [dim]{audience['source_cohort_id']}[/]" if source else None
    return output.fields(
        [
            ("Audience", f"{output.text(audience['name'])} [dim]{audience['id']}[/]"),
            ("Source cohort", cohort or audience["source_cohort_id"]),
            ("Status", f"{output.status(audience['status'])} [dim]({audience['sync']} sync)[/]"),
            ("Members", output.count(audience["member_count"])),
            ("Last refresh", output.moment(audience["last_refreshed_at"])),
            ("Next refresh", output.moment(audience["next_refresh_at"])),
            ("Created", output.moment(audience["created_at"])),
        ]
    )


def _label(audience: dict[str, Any]) -> str:
    return f"{output.text(audience['name'])} ({audience['id']})"
