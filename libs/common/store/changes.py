"""Reads of `audience_changes`, who joined or left an audience in which refresh.

A refresh stages its delta under (run, attempt) before applying it, and a crashed attempt
leaves rows that nobody owns. Only the attempt a run record committed to (`staged = 1`,
its `attempt`) is the audience's history, so every read here goes through the run records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from gurulu.common.clickhouse import ClickHouse

Change = Literal["joined", "left"]

# The recent runs that committed to a non-empty delta bound the scan: the change log is
# read by its primary key (workspace, audience, run, attempt), never in full.
_RECENT = """
SELECT person_id, toString(change) AS change, at, run_id
FROM audience_changes FINAL
WHERE workspace_id = {ws:String} AND audience_id = {aud:String}
  AND (run_id, attempt) IN (
    SELECT run_id, attempt FROM refresh_runs FINAL
    WHERE workspace_id = {ws:String} AND audience_id = {aud:String}
      AND staged = 1 AND joined_count + left_count > 0
    ORDER BY run_id DESC
    LIMIT {runs:UInt32}
  )
ORDER BY at DESC, person_id
LIMIT {limit:UInt32} BY change
"""


@dataclass(frozen=True)
class PersonChange:
    person_id: str
    change: Change
    at: datetime
    run_id: str


def recent_changes(
    db: ClickHouse, workspace_id: str, audience_id: str, limit: int = 10, runs: int = 100
) -> list[PersonChange]:
    """The latest `limit` people who joined and the latest `limit` who left, newest first,
    from the audience's last `runs` refreshes that changed anything."""
    rows = db.dicts(_RECENT, {"ws": workspace_id, "aud": audience_id, "limit": limit, "runs": runs})
    return [PersonChange(**row) for row in rows]
