"""`gurulu admin`: operator commands that take the admin token (`GURULU_ADMIN_TOKEN`), not
a workspace's key: list and create workspaces, change a plan, and rotate secret keys.

A secret key is shown once by the API, so `create` and `new-key` print it as a ready
`export` line; with `--json` it is in the body like everything else. A rotation is
`new-key`, moving the workspace's clients to it, then `revoke-key` of the old one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer

from .. import output
from ..client import segment
from .common import Json, session

app = typer.Typer(help="Operator commands (take GURULU_ADMIN_TOKEN).")
workspace = typer.Typer(help="Workspaces, their plans and their secret keys.")
app.add_typer(workspace, name="workspace")

Plan = Annotated[
    Literal["free", "custom"], typer.Option(help="free: 3 active audiences; custom: unlimited.")
]


WorkspaceId = Annotated[str, typer.Argument(help="The workspace's id (ws_…).")]


@workspace.command("list")
def list_workspaces(ctx: typer.Context, json: Json = False) -> None:
    """Every workspace, oldest first."""
    with session(ctx, admin=True) as api:
        reply = api.get("/v1/admin/workspaces")
    output.emit(reply, json, _workspaces)


@workspace.command("keys")
def list_keys(ctx: typer.Context, workspace_id: WorkspaceId, json: Json = False) -> None:
    """A workspace's secret keys: their ids and when they were made (never the keys)."""
    with session(ctx, admin=True) as api:
        reply = api.get(f"/v1/admin/workspaces/{segment(workspace_id)}/keys")
    output.emit(reply, json, _keys)


@workspace.command("new-key")
def new_key(ctx: typer.Context, workspace_id: WorkspaceId, json: Json = False) -> None:
    """Issue another secret key (shown once); the workspace's other keys keep working."""
    with session(ctx, admin=True) as api:
        reply = api.post(f"/v1/admin/workspaces/{segment(workspace_id)}/keys")
    output.emit(reply, json, _new_key)


@workspace.command("revoke-key")
def revoke_key(
    ctx: typer.Context,
    workspace_id: WorkspaceId,
    key_id: Annotated[str, typer.Argument(help="The key's id, as `keys` lists it.")],
    json: Json = False,
) -> None:
    """Revoke a secret key: the API refuses it (at once where it was revoked, within half a
    minute on other replicas) and web app sessions signed in with it end. The last key
    cannot be revoked."""
    with session(ctx, admin=True) as api:
        path = f"/v1/admin/workspaces/{segment(workspace_id)}/keys/{segment(key_id)}"
        reply = api.delete(path)
    output.emit(reply, json, lambda _: output.out.print(f"Revoked key {output.text(key_id)}."))


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
    active, limit = changed["active_audiences"], changed["audience_limit"]
    if limit is not None and active > limit:
        output.out.print(
            f"[yellow]It has {active} active audiences, over the plan's {limit}:[/] they keep"
            " running; new and resumed audiences are refused until it is back under."
        )


def _workspaces(page: dict[str, Any]) -> None:
    grid = output.table("ID", "Name", "Plan")
    for found in page["data"]:
        grid.add_row(found["workspace_id"], output.text(found["name"]), found["plan"])
    output.show(grid)


def _keys(page: dict[str, Any]) -> None:
    grid = output.table("Key", "Made")
    for key in page["data"]:
        grid.add_row(key["key_id"], output.relative(key["created_at"]))
    output.show(grid)


def _new_key(made: dict[str, Any]) -> None:
    output.out.print(f"Key {made['key_id']} issued. The secret key, shown only this once:")
    output.out.print(f"  export GURULU_SECRET_KEY={made['secret_key']}", soft_wrap=True)
