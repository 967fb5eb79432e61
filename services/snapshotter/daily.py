"""Folding refresh runs into `audience_changes_daily`.

A day's row is recomputed from all of that day's succeeded runs (UTC days of their
evaluation time): member_count after the last one, joined and left summed, and net_change.
Recomputing from the runs makes the fold idempotent and independent of message order. Its
row version is derived from the runs it covers, so a fold that saw fewer runs can never
replace one that saw more, whichever finishes last.
"""

from __future__ import annotations

from datetime import date

from gurulu.common.clickhouse import ClickHouse

_FOLD = """
INSERT INTO audience_changes_daily (workspace_id, audience_id, snapshot_date, member_count,
    joined_count, left_count, net_change, updated_at, version)
SELECT workspace_id, audience_id, toDate(evaluated_at) AS day,
       argMax(member_count, evaluated_at), sum(joined_count), sum(left_count),
       toInt64(sum(joined_count)) - toInt64(sum(left_count)), now64(6),
       toUInt64(toUnixTimestamp64Micro(max(evaluated_at))) * 1000 + least(count(), 999)
FROM refresh_runs FINAL
WHERE workspace_id = {ws:String} AND audience_id = {aud:String} AND status = 'succeeded'
  AND toDate(evaluated_at) = {day:Date}
GROUP BY workspace_id, audience_id, day
"""


def fold(db: ClickHouse, workspace_id: str, audience_id: str, day: date) -> None:
    """Recompute the audience's row for `day` from its succeeded runs."""
    db.command(_FOLD, {"ws": workspace_id, "aud": audience_id, "day": day})
