"""`gurulu audience runs` and `gurulu audience changes`: what happened to an audience.

Runs are the refreshes themselves, newest first, with who joined and left in each; a
failed run shows its error. Changes are the daily snapshots, oldest first as the API sends
them, with a bar per day and a sparkline over the whole period, so a trend is visible at a
glance without a chart.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .. import output
from ..client import segment
from .common import Json, session

AudienceId = Annotated[str, typer.Argument(help="The audience's id (aud_…).")]
RUN_COLUMNS = ("Run", "Reason", "Status", "Requested", "Took>", "Members>", "Joined>", "Left>")


def runs(
    ctx: typer.Context,
    audience: AudienceId,
    limit: Annotated[int, typer.Option(help="How many runs at most.", min=1, max=1000)] = 100,
    before: Annotated[
        str | None,
        typer.Option(help="The runs after this run id (the next page).", show_default=False),
    ] = None,
    json: Json = False,
) -> None:
    """List an audience's refresh runs, newest first, a page at a time."""
    with session(ctx) as api:
        reply = api.get(f"/v1/audiences/{segment(audience)}/runs", limit=limit, before=before)

    def show(page: dict[str, Any]) -> None:
        _runs(page)
        output.older(page, "runs", f"gurulu audience runs {output.text(audience)}")

    output.emit(reply, json, show)


def changes(ctx: typer.Context, audience: AudienceId, json: Json = False) -> None:
    """Show an audience's members per day, with who joined and left."""
    with session(ctx) as api:
        reply = api.get(f"/v1/audiences/{segment(audience)}/changes")
    output.emit(reply, json, _changes)


def _runs(page: dict[str, Any]) -> None:
    if not page["data"]:
        output.out.print("No refresh runs yet.")
        return
    grid = output.table(*RUN_COLUMNS, "Error")
    for run in page["data"]:
        done = run["status"] == "succeeded"
        grid.add_row(
            run["run_id"],
            run["reason"],
            output.status(run["status"]),
            output.relative(run["requested_at"]),
            duration(run["duration_seconds"]),
            output.count(run["member_count"]) if done else "—",
            delta(run["joined_count"], "green", "+") if done else "—",
            delta(run["left_count"], "red", "-") if done else "—",
            f"[red]{output.text(run['error'])}[/]" if run["error"] else "",
        )
    output.show(grid)


def _changes(page: dict[str, Any]) -> None:
    rows = page["data"]
    if not rows:
        output.out.print("No daily snapshots yet; the first is recorded by the first refresh.")
        return
    members = [row["member_count"] for row in rows]
    high = max(members)
    grid = output.table("Day", "Members>", "Joined>", "Left>", "Net>", "")
    for row in rows:
        grid.add_row(
            row["snapshot_date"],
            output.count(row["member_count"]),
            delta(row["joined_count"], "green", "+"),
            delta(row["left_count"], "red", "-"),
            output.signed(row["net_change"]),
            f"[cyan]{output.bar(row['member_count'], high)}[/]",
        )
    output.show(grid)
    first, last = rows[0]["snapshot_date"], rows[-1]["snapshot_date"]
    output.out.print(f"Members {first} → {last}: [cyan]{output.sparkline(members)}[/]")


def delta(value: int, colour: str, sign: str) -> str:
    return f"[{colour}]{sign}{value:,}[/]" if value else "0"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:,.1f} s"
