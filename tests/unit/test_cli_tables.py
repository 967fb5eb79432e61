"""How the CLI lays out its lists: a table where the terminal is wide enough for it, and
where it is not, one block per row, so that no id or name is cut short."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from gurulu.cli import output
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
