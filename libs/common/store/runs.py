"""Refresh runs: the durable record of every refresh asked for and what it did.

A run is written before its message is sent, and each step of the refresh writes a new
version of it; so ClickHouse, not the message stream, says which refreshes are owed. The
`staged` flag and `attempt` name the delta a run committed to (see the evaluator).
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields, replace
from datetime import datetime
from typing import Literal

from gurulu.common.clickhouse import ClickHouse
from gurulu.common.store.versions import next_version

Reason = Literal["hourly_tick", "created", "manual", "catch_up"]
Status = Literal["queued", "running", "succeeded", "failed"]


@dataclass(frozen=True)
class Run:
    workspace_id: str
    audience_id: str
    run_id: str
    reason: str
    status: str
    requested_at: datetime
    attempt: int = 0
    staged: bool = False
    started_at: datetime | None = None
    evaluated_at: datetime | None = None
    finished_at: datetime | None = None
    member_count: int = 0
    joined_count: int = 0
    left_count: int = 0
    rows_read: int = 0
    definition: str = ""
    error: str = ""

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed")

    def but(self, **changes: object) -> Run:
        return replace(self, **changes)  # type: ignore[arg-type]


_COLUMNS = tuple(f.name for f in fields(Run))
_SELECT = (
    f"SELECT {', '.join(_COLUMNS)} FROM refresh_runs FINAL"
    " WHERE workspace_id = {ws:String} AND audience_id = {aud:String}"
)


def _run(row: dict) -> Run:
    return Run(**(row | {"staged": bool(row["staged"])}))


def save(db: ClickHouse, run: Run) -> None:
    db.insert("refresh_runs", [(*astuple(run), next_version())], (*_COLUMNS, "version"))


def record_requests(db: ClickHouse, requested: list[Run]) -> None:
    """Record queued runs. Their version is 0, below any later step of a run: recording the
    same request twice (two tickers, one tick) can never move a run back to queued."""
    db.insert("refresh_runs", [(*astuple(run), 0) for run in requested], (*_COLUMNS, "version"))


def get(db: ClickHouse, workspace_id: str, audience_id: str, run_id: str) -> Run | None:
    row = db.one(
        _SELECT + " AND run_id = {run:String}",
        {"ws": workspace_id, "aud": audience_id, "run": run_id},
    )
    return _run(row) if row else None


def recent(db: ClickHouse, workspace_id: str, audience_id: str, limit: int = 100) -> list[Run]:
    rows = db.dicts(
        _SELECT + " ORDER BY run_id DESC LIMIT {limit:UInt32}",
        {"ws": workspace_id, "aud": audience_id, "limit": limit},
    )
    return [_run(row) for row in rows]


def latest_succeeded(db: ClickHouse, workspace_id: str, audience_id: str) -> Run | None:
    row = db.one(
        _SELECT + " AND status = 'succeeded' ORDER BY evaluated_at DESC, run_id DESC LIMIT 1",
        {"ws": workspace_id, "aud": audience_id},
    )
    return _run(row) if row else None


@dataclass(frozen=True)
class Situation:
    """What a refresh needs to know of an audience's runs, read in one query: the run
    itself, the runs that committed to a delta but did not finish applying it (oldest
    first), and the latest run that committed to one (its time and member count)."""

    run: Run | None
    unfinished: tuple[Run, ...]
    latest_staged: Run | None


_SITUATION = f"""
SELECT 'open' AS part, {", ".join(_COLUMNS)} FROM refresh_runs FINAL
WHERE workspace_id = {{ws:String}} AND audience_id = {{aud:String}}
  AND (run_id = {{run:String}} OR (staged = 1 AND status != 'succeeded'))
UNION ALL
SELECT 'latest' AS part, * FROM (
    SELECT {", ".join(_COLUMNS)} FROM refresh_runs FINAL
    WHERE workspace_id = {{ws:String}} AND audience_id = {{aud:String}} AND staged = 1
    ORDER BY evaluated_at DESC LIMIT 1
)
"""


def situation(db: ClickHouse, workspace_id: str, audience_id: str, run_id: str) -> Situation:
    rows = db.dicts(_SITUATION, {"ws": workspace_id, "aud": audience_id, "run": run_id})
    found = [(row.pop("part"), _run(row)) for row in rows]
    opened = [run for part, run in found if part == "open"]
    latest = next((run for part, run in found if part == "latest"), None)
    return Situation(
        run=next((run for run in opened if run.run_id == run_id), None),
        unfinished=tuple(
            sorted(
                (r for r in opened if r.staged and r.status != "succeeded" and r.run_id != run_id),
                key=lambda r: (r.evaluated_at, r.run_id),
            )
        ),
        latest_staged=latest,
    )


@dataclass(frozen=True)
class Schedule:
    """Where an active audience stands: when it last refreshed, and what is in flight."""

    audience_id: str
    last_succeeded_at: datetime | None
    open_runs: tuple[Run, ...]


def schedules(db: ClickHouse, workspace_id: str) -> list[Schedule]:
    """Every active audience of the workspace with its last success and its open runs."""
    audiences = db.rows(
        "SELECT a.audience_id, r.last_ok FROM audiences AS a FINAL"
        " LEFT JOIN (SELECT audience_id, max(evaluated_at) AS last_ok FROM refresh_runs FINAL"
        "   WHERE workspace_id = {ws:String} AND status = 'succeeded' GROUP BY audience_id) AS r"
        " ON r.audience_id = a.audience_id"
        " WHERE a.workspace_id = {ws:String} AND a.status = 'active'"
        " SETTINGS join_use_nulls = 1",
        {"ws": workspace_id},
    )
    open_rows = db.dicts(
        f"SELECT {', '.join(_COLUMNS)} FROM refresh_runs FINAL"
        " WHERE workspace_id = {ws:String} AND status IN ('queued', 'running')",
        {"ws": workspace_id},
    )
    open_runs: dict[str, list[Run]] = {}
    for row in open_rows:
        open_runs.setdefault(row["audience_id"], []).append(_run(row))
    return [
        Schedule(audience_id, last_ok, tuple(open_runs.get(audience_id, ())))
        for audience_id, last_ok in audiences
    ]


def latest_succeeded_by_audience(db: ClickHouse, workspace_id: str) -> dict[str, Run]:
    """The last succeeded run of every audience of the workspace, in one query."""
    rows = db.dicts(
        f"SELECT {', '.join(_COLUMNS)} FROM refresh_runs FINAL"
        " WHERE workspace_id = {ws:String} AND status = 'succeeded'"
        " ORDER BY audience_id, evaluated_at DESC LIMIT 1 BY audience_id",
        {"ws": workspace_id},
    )
    return {row["audience_id"]: _run(row) for row in rows}
