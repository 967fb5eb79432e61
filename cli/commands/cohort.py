"""`gurulu cohort`: define people by rules, see how many match, and preview a definition
without saving it.

A cohort is a static count computed when it is saved, so `create` and `show` print that
count with its age. Rules are passed as text, one `--rule` each, exactly as the rule
language spells them; the API parses them, and a rule it cannot parse comes back as an
error pointing at the column.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .. import output
from ..client import segment
from .common import Json, Match, Rules, session

app = typer.Typer(help="Cohorts: people defined by event and property rules.")

IdOrName = Annotated[str, typer.Argument(help="The cohort's id (coh_…) or name.")]


@app.command()
def create(
    ctx: typer.Context, name: str, rule: Rules, match: Match = "all", json: Json = False
) -> None:
    """Define a cohort from rules and count the people in it."""
    with session(ctx) as api:
        reply = api.post("/v1/cohorts", {"name": name, "rules": rule, "match": match})
    output.emit(reply, json, _created)


@app.command("list")
def list_(ctx: typer.Context, json: Json = False) -> None:
    """List the workspace's cohorts with their counts."""
    with session(ctx) as api:
        reply = api.get("/v1/cohorts")
    output.emit(reply, json, _table)


@app.command()
def show(ctx: typer.Context, cohort: IdOrName, json: Json = False) -> None:
    """Show one cohort: its rules and its count."""
    with session(ctx) as api:
        reply = api.get(f"/v1/cohorts/{segment(cohort)}")
    output.emit(reply, json, lambda data: output.out.print(_detail(data)))


@app.command()
def delete(ctx: typer.Context, cohort: IdOrName, json: Json = False) -> None:
    """Delete a cohort that no audience or other cohort uses."""
    with session(ctx) as api:
        reply = api.delete(f"/v1/cohorts/{segment(cohort)}")
    output.emit(reply, json, lambda _: output.out.print(f"Deleted cohort {output.text(cohort)}."))


@app.command()
def preview(ctx: typer.Context, rule: Rules, match: Match = "all", json: Json = False) -> None:
    """Count the people who match rules, with a sample, without saving a cohort."""
    with session(ctx) as api:
        reply = api.post("/v1/cohorts/preview", {"rules": rule, "match": match})
    output.emit(reply, json, _preview)


def _created(cohort: dict[str, Any]) -> None:
    output.out.print(_detail(cohort))
    output.out.print(f"\n[green]Created cohort[/] {output.text(cohort['name'])}.")


def _table(page: dict[str, Any]) -> None:
    if not page["data"]:
        output.out.print("No cohorts yet. Create one with `gurulu cohort create NAME --rule …`.")
        return
    grid = output.table("ID", "Name", "Rules", "Match", "People>", "Counted")
    for c in page["data"]:
        grid.add_row(
            c["id"],
            output.text(c["name"]),
            output.text("\n".join(c["rules"])),
            c["match"],
            output.count(c["count"]),
            output.relative(c["computed_at"]),
        )
    output.show(grid)


def _detail(cohort: dict[str, Any]) -> Any:
    joiner = " [dim]and[/] " if cohort["match"] == "all" else " [dim]or[/] "
    rules = joiner.join(f"[cyan]{output.text(r)}[/]" for r in cohort["rules"])
    counted = output.relative(cohort["computed_at"])
    return output.fields(
        [
            ("Cohort", f"{output.text(cohort['name'])} [dim]{cohort['id']}[/]"),
            ("Rules", rules),
            ("People", f"{output.count(cohort['count'])} [dim](counted {counted})[/]"),
            ("Created", output.moment(cohort["created_at"])),
        ]
    )


def _preview(found: dict[str, Any]) -> None:
    people = "person matches" if found["count"] == 1 else "people match"
    output.out.print(f"[bold]{output.count(found['count'])}[/] {people}.")
    if found["sample"]:
        output.out.print("Sample: " + ", ".join(output.text(p) for p in found["sample"]))
    for notice in found.get("notices", []):
        output.out.print(f"[yellow]Rule {notice['rule'] + 1}:[/] {output.text(notice['message'])}")
