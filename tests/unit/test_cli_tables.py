"""How the CLI lays out its lists: a table where the terminal is wide enough for it, and
where it is not, one block per row, so that no id or name is cut short. Its help, too,
names every option whole on an 80-column terminal."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from gurulu.cli import main, output
from gurulu.cli.commands import audience, history

AUDIENCE = {
    "id": "aud_01KBQ2ZJ4W5X8Y9Z0A1B2C3D4E",
    "name": "Yüksek niyetli ziyaretçiler",
    "source_cohort_name": "high-intent",
    "source_cohort_id": "coh_01KBQ2ZJ4W5X8Y9Z0A1B2C3D4F",
    "status": "active",
    "member_count": 12345,
    "last_refreshed_at": None,
    "next_refresh_at": None,
}
RUN = {
    "run_id": "run_01KBQ2ZJ4W5X8Y9Z0A1B2C3D4G",
    "reason": "hourly_tick",
    "status": "succeeded",
    "requested_at": "2026-12-04T10:00:00+00:00",
    "duration_seconds": 0.25,
    "member_count": 12345,
    "joined_count": 12,
    "left_count": 3,
    "error": "",
}


def printed(monkeypatch: pytest.MonkeyPatch, width: int, show) -> list[str]:  # type: ignore[no-untyped-def]
    screen = io.StringIO()
    monkeypatch.setattr(output, "out", Console(file=screen, width=width, color_system=None))
    show()
    return [line.rstrip() for line in screen.getvalue().splitlines()]


@pytest.mark.parametrize("width", [50, 60])
def test_a_narrow_terminal_shows_each_audience_as_a_block_with_its_id_whole(monkeypatch, width):
    lines = printed(monkeypatch, width, lambda: audience._table({"data": [AUDIENCE, AUDIENCE]}))
    assert all(len(line) <= width for line in lines)
    ids = [line for line in lines if line.startswith("ID")]
    assert ids == [f"ID{' ' * 13}{AUDIENCE['id']}"] * 2
    assert any(line.endswith("Yüksek niyetli ziyaretçiler") for line in lines)
    assert any(line.endswith("12,345") for line in lines)
    assert "…" not in "".join(lines)


@pytest.mark.parametrize("width", [60, 160])
def test_control_characters_from_the_api_are_spelt_out_never_sent_to_the_terminal(
    monkeypatch, width
):
    """A name stored before names were one line, or a person id as ingested, may hold an
    escape sequence or a carriage return: the terminal shows it, and does not act on it."""
    hostile = {**AUDIENCE, "name": "Buyers\x1b[2J\rgone\u2028[bold]x[/]"}
    lines = printed(monkeypatch, width, lambda: audience._table({"data": [hostile]}))
    shown = "\n".join(lines)
    assert not any(ch in shown for ch in "\x1b\r\u2028")
    assert "\\x1b[2J\\x0dgone\\u2028[bold]x[/]" in shown.replace("\n", "").replace(" ", "")


def test_a_wide_terminal_shows_a_table_one_row_per_audience(monkeypatch):
    lines = printed(monkeypatch, 160, lambda: audience._table({"data": [AUDIENCE, AUDIENCE]}))
    rows = [line for line in lines if AUDIENCE["id"] in line]
    assert len(rows) == 2 and all("Yüksek niyetli ziyaretçiler" in row for row in rows)
    assert lines[1].split("┃")[1].strip() == "ID"


def test_runs_on_a_narrow_terminal_keep_every_column(monkeypatch):
    page = {"data": [RUN, RUN | {"status": "failed", "error": "Code: 241. Memory limit"}]}
    lines = printed(monkeypatch, 60, lambda: history._runs(page))
    assert all(len(line) <= 60 for line in lines)
    keys = [line.split()[0] for line in lines if line.strip()]
    assert keys.count("Run") == 2 and keys.count("Reason") == 2
    assert sum(RUN["run_id"] in line for line in lines) == 2
    assert any(line.endswith("Code: 241. Memory limit") for line in lines)


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_every_commands_help_names_its_options_and_variables_whole_at_80_columns():
    """Help on an 80-column terminal: no option name or environment variable is cut."""
    root = typer.main.get_command(main.app)
    runner = CliRunner()
    seen = 0
    for path, command in _commands(root):
        result = runner.invoke(main.app, [*path, "--help"], env={"COLUMNS": "80"})
        assert result.exit_code == 0, path
        text = result.output
        assert all(len(line) <= 80 for line in text.splitlines()), path
        for param in command.params:
            for name in param.opts if param.param_type_name == "option" else ():
                assert re.search(rf"{name}\b", text), (path, name)
            envvar = getattr(param, "envvar", None)
            if isinstance(envvar, str) and getattr(param, "show_envvar", False):
                assert re.search(rf"{envvar}\s*\]", text), (path, envvar)
        seen += 1
    assert seen > 20


def test_a_plan_change_below_the_audiences_running_is_said(monkeypatch):
    from gurulu.cli.commands import admin

    changed = {"workspace_id": "ws_1", "name": "Shop", "plan": "free", "audience_limit": 3}
    over = printed(monkeypatch, 120, lambda: admin._changed(changed | {"active_audiences": 4}))
    assert "It has 4 active audiences, over the plan's 3: they keep running" in " ".join(over)
    under = printed(monkeypatch, 120, lambda: admin._changed(changed | {"active_audiences": 3}))
    assert under == ["Workspace Shop (ws_1) is now on the free plan."]
