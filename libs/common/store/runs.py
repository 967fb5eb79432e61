"""Refresh runs: the durable record of every refresh asked for and what it did.

A run is written before its message is sent, and each step of the refresh writes a new
version of it; so ClickHouse, not the message stream, says which refreshes are owed. The
`staged` flag and `attempt` name the delta a run committed to (see the evaluator).
"""

from __future__ import annotations

from dataclasses import asdict, astuple, dataclass, fields, replace
from datetime import datetime
from typing import Literal

from gurulu.common.clickhouse import ClickHouse
from gurulu.common.schema import REFRESH_RUNS
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


_INSERT = REFRESH_RUNS.insert_sql((*_COLUMNS, "version"))


def save(db: ClickHouse, run: Run) -> None:
    values = {name: int(v) if isinstance(v, bool) else v for name, v in asdict(run).items()}
    db.command(_INSERT, values | {"version": next_version()})


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


def recent(
    db: ClickHouse,
    workspace_id: str,
    audience_id: str,
    limit: int = 100,
    before: Run | None = None,
) -> list[Run]:
    """The audience's runs, the latest requested first (as people read a run list; a run id
    made for another time — a catch-up's names its interval, a backfill's its day — need
    not sort by request time); with `before`, those that come after it in that order."""
    params: dict[str, object] = {"ws": workspace_id, "aud": audience_id, "limit": limit}
    after = ""
    if before is not None:
        after = " AND (requested_at, run_id) < ({at:DateTime64(6, 'UTC')}, {run:String})"
        params |= {"at": before.requested_at, "run": before.run_id}
    rows = db.dicts(
        _SELECT + after + " ORDER BY requested_at DESC, run_id DESC LIMIT {limit:UInt32}", params
    )
    return [_run(row) for row in rows]


def latest_succeeded(db: ClickHouse, workspace_id: str, audience_id: str) -> Run | None:
    row = db.one(
        _SELECT + " AND status = 'succeeded' ORDER BY evaluated_at DESC, run_id DESC LIMIT 1",
        {"ws": workspace_id, "aud": audience_id},
    )
    return _run(row) if row else None


def waiting(db: ClickHouse, workspace_id: str, audience_id: str, reason: str) -> Run | None:
    """The audience's latest run for `reason` that is still queued: requested, not begun."""
    row = db.one(
        _SELECT + " AND status = 'queued' AND reason = {reason:String}"
        " ORDER BY requested_at DESC, run_id DESC LIMIT 1",
        {"ws": workspace_id, "aud": audience_id, "reason": reason},
    )
    return _run(row) if row else None


@dataclass(frozen=True)
class Situation:
    """What a refresh needs to know of an audience's runs: the run itself, the runs that
    committed to a delta but did not finish applying it (oldest first), and the time and
    member count of the latest run that committed to one."""

    run: Run | None
    unfinished: tuple[Run, ...]
    latest_evaluated_at: datetime | None
    latest_member_count: int


# The audience's runs in one aggregate of one row. The run itself comes back as one tuple:
# an aggregate per column would cost ClickHouse more to plan than to run here.
_SITUATION = f"""
SELECT anyIf(tuple({", ".join(_COLUMNS)}), run_id = {{run:String}}) AS this,
       countIf(run_id = {{run:String}}) AS found,
       maxIf(evaluated_at, staged = 1) AS latest_evaluated_at,
       argMaxIf(member_count, evaluated_at, staged = 1) AS latest_member_count,
       countIf(staged = 1 AND status != 'succeeded' AND run_id != {{run:String}}) AS unfinished
FROM refresh_runs FINAL
WHERE workspace_id = {{ws:String}} AND audience_id = {{aud:String}}
"""


def situation(db: ClickHouse, workspace_id: str, audience_id: str, run_id: str) -> Situation:
    """One aggregate over the audience's runs; the unfinished ones (rare: a crash) are
    fetched only when there are any."""
    params = {"ws": workspace_id, "aud": audience_id, "run": run_id}
    row = db.one(_SITUATION, params) or {}
    run = None
    if row.get("found"):
        run = _run(dict(zip(_COLUMNS, row["this"], strict=True)))
    unfinished: list[Run] = []
    if row.get("unfinished"):
        rows = db.dicts(
            _SELECT + " AND staged = 1 AND status != 'succeeded' AND run_id != {run:String}"
            " ORDER BY evaluated_at, run_id",
            params,
        )
        unfinished = [_run(r) for r in rows]
    return Situation(
        run,
        tuple(unfinished),
        row.get("latest_evaluated_at"),
        int(row.get("latest_member_count") or 0),
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


def latest_by_audience(db: ClickHouse, workspace_id: str) -> dict[str, Run]:
    """The latest requested run of every audience of the workspace, whatever its status,
    in one query: what a list shows as "refreshing" or "failed"."""
    rows = db.dicts(
        f"SELECT {', '.join(_COLUMNS)} FROM refresh_runs FINAL"
        " WHERE workspace_id = {ws:String}"
        " ORDER BY audience_id, requested_at DESC, run_id DESC LIMIT 1 BY audience_id",
        {"ws": workspace_id},
    )
    return {row["audience_id"]: _run(row) for row in rows}
