"""`gurulu quota`: the workspace's plan and how much of each quota dimension is in use.

Only active audiences count (paused and archived ones do not), so the table says so; a
dimension without a limit reads "unlimited" rather than an empty cell.
"""

from __future__ import annotations

from typing import Any

import typer

from .. import output
from .common import Json, session


def quota(ctx: typer.Context, json: Json = False) -> None:
    """Show the workspace's plan and its quota use."""
    with session(ctx) as api:
        reply = api.get("/v1/quota")
    output.emit(reply, json, _render)


def _render(quota: dict[str, Any]) -> None:
    grid = output.table("Dimension", "Used>", "Limit>", "Left>", title=f"Plan: {quota['plan']}")
    for name, dimension in quota["dimensions"].items():
        used, limit = dimension["used"], dimension["limit"]
        left = "—" if limit is None else output.count(max(limit - used, 0))
        full = limit is not None and used >= limit
        grid.add_row(
            f"active {name}" if name == "audiences" else name,
            f"[red]{used:,}[/]" if full else output.count(used),
            "unlimited" if limit is None else output.count(limit),
            left,
        )
    output.show(grid)
