"""Audiences: a live, synced version of a cohort. Only the API writes this table; the
evaluator's results live in refresh runs and members, so the two never overwrite each other."""

from __future__ import annotations

from dataclasses import astuple, dataclass
from datetime import datetime
from typing import Literal

from gurulu.common.clickhouse import ClickHouse
from gurulu.common.store.versions import next_version

Status = Literal["active", "paused", "archived"]


@dataclass(frozen=True)
class Audience:
    workspace_id: str
    audience_id: str
    name: str
    source_cohort_id: str
    sync: str
    status: str
    created_at: datetime
    updated_at: datetime


_COLUMNS = (
    "workspace_id",
    "audience_id",
    "name",
    "source_cohort_id",
    "sync",
    "status",
    "created_at",
    "updated_at",
    "version",
)
_SELECT = (
    "SELECT workspace_id, audience_id, name, source_cohort_id, sync, status, created_at,"
    " updated_at FROM audiences FINAL WHERE workspace_id = {ws:String}"
)


def save(db: ClickHouse, audience: Audience) -> None:
    db.insert("audiences", [(*astuple(audience), next_version())], _COLUMNS)


def get(db: ClickHouse, workspace_id: str, audience_id: str) -> Audience | None:
    row = db.one(
        _SELECT + " AND audience_id = {id:String} AND status != 'archived'",
        {"ws": workspace_id, "id": audience_id},
    )
    return Audience(**row) if row else None


def list_all(db: ClickHouse, workspace_id: str, status: Status | None = None) -> list[Audience]:
    sql = _SELECT + " AND status != 'archived'"
    params = {"ws": workspace_id}
    if status:
        sql += " AND status = {status:String}"
        params["status"] = status
    return [Audience(**row) for row in db.dicts(sql + " ORDER BY created_at DESC", params)]


def name_taken(db: ClickHouse, workspace_id: str, name: str, other_than: str = "") -> bool:
    """Does an audience of the workspace that is not archived have this name (in any case),
    other than the audience `other_than`?"""
    return bool(
        db.scalar(
            "SELECT count() FROM audiences FINAL WHERE workspace_id = {ws:String}"
            " AND status != 'archived' AND audience_id != {other:String}"
            " AND lowerUTF8(name) = lowerUTF8({name:String})",
            {"ws": workspace_id, "name": name, "other": other_than},
        )
    )


def count_active(db: ClickHouse, workspace_id: str) -> int:
    return int(
        db.scalar(
            "SELECT count() FROM audiences FINAL WHERE workspace_id = {ws:String}"
            " AND status = 'active'",
            {"ws": workspace_id},
        )
    )


def using_cohort(db: ClickHouse, workspace_id: str, cohort_id: str) -> list[Audience]:
    return [a for a in list_all(db, workspace_id) if a.source_cohort_id == cohort_id]
