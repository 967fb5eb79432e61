"""Destination syncs and their landed batches: the durable record of what each sync owed,
what it sent, and what the platform said.

A sync is written when it starts and again at each step (staged, finished), like a refresh
run. A batch is written right after the platform acknowledged it; a sync's totals are the
sum of its batches, so a sync resumed after a crash counts what landed before it too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from typing import Any

import orjson

from gurulu.common.clickhouse import ClickHouse
from gurulu.common.store.versions import next_version

TERMINAL = ("succeeded", "partial", "failed")
SAMPLE_LIMIT = 100


@dataclass(frozen=True)
class Sync:
    workspace_id: str
    audience_id: str
    destination_id: str
    sync_id: str
    run_id: str
    trigger: str
    status: str
    requested_at: datetime
    attempt: int = 0
    staged: bool = False
    to_add: int = 0
    to_remove: int = 0
    added: int = 0
    removed: int = 0
    skipped: int = 0
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    rejected_sample: list[dict[str, str]] = field(default_factory=list)
    batches: int = 0
    error: str = ""
    refreshed_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def but(self, **changes: Any) -> Sync:
        return replace(self, **changes)


@dataclass(frozen=True)
class Landed:
    """One batch the platform acknowledged."""

    change: str
    batch_seq: int
    last_person_id: str
    sent: int
    accepted: int
    rejected: int
    skipped: int
    skipped_reasons: dict[str, int]
    rejected_sample: list[dict[str, str]]
    landed_at: datetime


_SYNC_COLUMNS = tuple(f.name for f in fields(Sync))
_BATCH_COLUMNS = tuple(f.name for f in fields(Landed))
_SELECT = (
    f"SELECT {', '.join(_SYNC_COLUMNS)} FROM destination_syncs FINAL"
    " WHERE workspace_id = {ws:String} AND audience_id = {aud:String}"
)


def _sync(row: dict[str, Any]) -> Sync:
    return Sync(
        **(
            row
            | {
                "staged": bool(row["staged"]),
                "skipped_reasons": dict(row["skipped_reasons"]),
                "rejected_sample": orjson.loads(row["rejected_sample"] or "[]"),
            }
        )
    )


def save(db: ClickHouse, sync: Sync) -> None:
    values = asdict(sync) | {
        "staged": int(sync.staged),
        "rejected_sample": orjson.dumps(sync.rejected_sample[:SAMPLE_LIMIT]).decode(),
    }
    row = (*(values[c] for c in _SYNC_COLUMNS), next_version())
    db.insert("destination_syncs", [row], (*_SYNC_COLUMNS, "version"))


def get(db: ClickHouse, workspace_id: str, audience_id: str, sync_id: str) -> Sync | None:
    row = db.one(
        _SELECT + " AND sync_id = {sync:String}",
        {"ws": workspace_id, "aud": audience_id, "sync": sync_id},
    )
    return _sync(row) if row else None


def recent(
    db: ClickHouse,
    workspace_id: str,
    audience_id: str,
    destination_id: str,
    limit: int = 100,
    before: Sync | None = None,
) -> list[Sync]:
    """The destination's syncs, the latest requested first; with `before`, those that come
    after it in that order."""
    params: dict[str, object] = {
        "ws": workspace_id,
        "aud": audience_id,
        "dest": destination_id,
        "limit": limit,
    }
    after = ""
    if before is not None:
        after = " AND (requested_at, sync_id) < ({at:DateTime64(6, 'UTC')}, {sync:String})"
        params |= {"at": before.requested_at, "sync": before.sync_id}
    rows = db.dicts(
        _SELECT
        + " AND destination_id = {dest:String}"
        + after
        + " ORDER BY requested_at DESC, sync_id DESC LIMIT {limit:UInt32}",
        params,
    )
    return [_sync(row) for row in rows]


def latest_by_destination(db: ClickHouse, workspace_id: str, audience_id: str) -> dict[str, Sync]:
    rows = db.dicts(
        _SELECT + " ORDER BY destination_id, requested_at DESC, sync_id DESC"
        " LIMIT 1 BY destination_id",
        {"ws": workspace_id, "aud": audience_id},
    )
    return {row["destination_id"]: _sync(row) for row in rows}


def trailing_failures(
    db: ClickHouse, workspace_id: str, audience_id: str, destination_id: str, window: int
) -> int:
    """How many of the destination's latest finished syncs failed in a row."""
    statuses = [
        s.status
        for s in recent(db, workspace_id, audience_id, destination_id, window + 1)
        if s.done
    ]
    count = 0
    for status in statuses:
        if status != "failed":
            break
        count += 1
    return count


def record_batch(
    db: ClickHouse, workspace_id: str, destination_id: str, sync_id: str, batch: Landed
) -> None:
    values = asdict(batch) | {
        "rejected_sample": orjson.dumps(batch.rejected_sample[:SAMPLE_LIMIT]).decode()
    }
    row = (
        workspace_id,
        destination_id,
        sync_id,
        *(values[c] for c in _BATCH_COLUMNS),
        next_version(),
    )
    columns = ("workspace_id", "destination_id", "sync_id", *_BATCH_COLUMNS, "version")
    db.insert("destination_batches", [row], columns)


def landed(db: ClickHouse, workspace_id: str, destination_id: str, sync_id: str) -> list[Landed]:
    rows = db.dicts(
        f"SELECT {', '.join(_BATCH_COLUMNS)} FROM destination_batches FINAL"
        " WHERE workspace_id = {ws:String} AND destination_id = {dest:String}"
        " AND sync_id = {sync:String} ORDER BY change, batch_seq",
        {"ws": workspace_id, "dest": destination_id, "sync": sync_id},
    )
    return [
        Landed(
            **(
                row
                | {
                    "skipped_reasons": dict(row["skipped_reasons"]),
                    "rejected_sample": orjson.loads(row["rejected_sample"] or "[]"),
                }
            )
        )
        for row in rows
    ]
