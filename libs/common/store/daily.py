"""Reads of `audience_changes_daily`, the movement of an audience day by day (written by
the snapshotter)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from gurulu.common.clickhouse import ClickHouse

_SELECT = """
SELECT audience_id, snapshot_date, member_count, joined_count, left_count, net_change
FROM audience_changes_daily FINAL
WHERE workspace_id = {ws:String} AND audience_id = {aud:String}
"""


@dataclass(frozen=True)
class DailyRow:
    audience_id: str
    snapshot_date: date
    member_count: int
    joined_count: int
    left_count: int
    net_change: int


def rows(
    db: ClickHouse, workspace_id: str, audience_id: str, since: date | None = None
) -> list[DailyRow]:
    sql = _SELECT
    params: dict[str, object] = {"ws": workspace_id, "aud": audience_id}
    if since is not None:
        sql += " AND snapshot_date >= {since:Date}"
        params["since"] = since
    return [DailyRow(**row) for row in db.dicts(sql + " ORDER BY snapshot_date", params)]


def rows_by_audience(db: ClickHouse, workspace_id: str, since: date) -> dict[str, list[DailyRow]]:
    """Every audience's rows from `since` on, in one query (a list's trend lines)."""
    found: dict[str, list[DailyRow]] = {}
    for row in db.dicts(
        "SELECT audience_id, snapshot_date, member_count, joined_count, left_count, net_change"
        " FROM audience_changes_daily FINAL"
        " WHERE workspace_id = {ws:String} AND snapshot_date >= {since:Date}"
        " ORDER BY audience_id, snapshot_date",
        {"ws": workspace_id, "since": since},
    ):
        found.setdefault(row["audience_id"], []).append(DailyRow(**row))
    return found
