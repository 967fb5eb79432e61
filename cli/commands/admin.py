"""`gurulu admin`: operator commands that take the admin token (`GURULU_ADMIN_TOKEN`), not
a workspace's key: create a workspace and change its plan.

A new workspace's secret key is shown once by the API, so `create` prints it as a ready
`export` line; with `--json` it is in the body like everything else.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer

from .. import output
from ..client import segment
from .common import Json, session

app = typer.Typer(help="Operator commands (take GURULU_ADMIN_TOKEN).")
workspace = typer.Typer(help="Workspaces and their plans.")
app.add_typer(workspace, name="workspace")

Plan = Annotated[
    Literal["free", "custom"], typer.Option(help="free: 3 active audiences; custom: unlimited.")
]


@workspace.command()
def create(ctx: typer.Context, name: str, plan: Plan = "free", json: Json = False) -> None:
    """Create a workspace and print its secret key (shown once)."""
    with session(ctx, admin=True) as api:
        reply = api.post("/v1/admin/workspaces", {"name": name, "plan": plan})
    output.emit(reply, json, _created)


@workspace.command("plan")
def change_plan(
    ctx: typer.Context,
    workspace_id: Annotated[str, typer.Argument(help="The workspace's id (ws_…).")],
    plan: Annotated[
        Literal["free", "custom"], typer.Option(help="The new plan.", show_default=False)
    ],
    json: Json = False,
) -> None:
    """Move a workspace to another plan."""
    with session(ctx, admin=True) as api:
        reply = api.patch(f"/v1/admin/workspaces/{segment(workspace_id)}", {"plan": plan})
    output.emit(reply, json, _changed)


def _created(created: dict[str, Any]) -> None:
    output.out.print(
        output.fields(
            [
                ("Workspace", f"{output.text(created['name'])} [dim]{created['workspace_id']}[/]"),
                ("Plan", created["plan"]),
            ]
        )
    )
    output.out.print("\nIts secret key, shown only this once:")
    output.out.print(f"  export GURULU_SECRET_KEY={created['secret_key']}", soft_wrap=True)


def _changed(changed: dict[str, Any]) -> None:
    output.out.print(
        f"Workspace {output.text(changed['name'])} ({changed['workspace_id']})"
        f" is now on the {changed['plan']} plan."
    )
