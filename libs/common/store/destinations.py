"""Destinations: an audience's connections to ad platforms and webhooks.

The API writes a destination when it is connected, edited or removed; the destinations
service writes it only to pause it after failures. Both hold the workspace's destinations
lock around a read-modify-write, so neither overwrites the other. The configuration is
kept as JSON beside its credentials, which are sealed (see `gurulu.common.crypto`) and
shown only as hints.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

import orjson

from gurulu.common.clickhouse import ClickHouse
from gurulu.common.store.versions import next_version

Type = Literal["webhook", "meta_custom_audience", "google_customer_match"]
TYPES: tuple[str, ...] = ("webhook", "meta_custom_audience", "google_customer_match")
LOCK = "destinations"


@dataclass(frozen=True)
class Destination:
    workspace_id: str
    destination_id: str
    audience_id: str
    type: str
    name: str
    mode: str
    status: str
    created_at: datetime
    updated_at: datetime
    config: dict[str, Any] = field(default_factory=dict)
    credentials: str = ""
    credential_hints: dict[str, str] = field(default_factory=dict)
    paused_reason: str = ""

    def but(self, **changes: Any) -> Destination:
        return replace(self, **changes)


_COLUMNS = (
    "workspace_id",
    "destination_id",
    "audience_id",
    "type",
    "name",
    "mode",
    "status",
    "created_at",
    "updated_at",
    "config",
    "credentials",
    "credential_hints",
    "paused_reason",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM destinations FINAL WHERE workspace_id = {{ws:String}}"


def _row(d: Destination, deleted: bool) -> tuple[Any, ...]:
    values = [getattr(d, name) for name in _COLUMNS]
    values[_COLUMNS.index("config")] = orjson.dumps(d.config).decode()
    values[_COLUMNS.index("credential_hints")] = orjson.dumps(d.credential_hints).decode()
    return (*values, next_version(), int(deleted))


def _destination(row: dict[str, Any]) -> Destination:
    return Destination(
        **(
            row
            | {
                "config": orjson.loads(row["config"] or "{}"),
                "credential_hints": orjson.loads(row["credential_hints"] or "{}"),
            }
        )
    )


def save(db: ClickHouse, destination: Destination) -> None:
    db.insert("destinations", [_row(destination, False)], (*_COLUMNS, "version", "is_deleted"))


def delete(db: ClickHouse, destination: Destination) -> None:
    db.insert("destinations", [_row(destination, True)], (*_COLUMNS, "version", "is_deleted"))


def get(
    db: ClickHouse, workspace_id: str, audience_id: str, destination_id: str
) -> Destination | None:
    row = db.one(
        _SELECT + " AND audience_id = {aud:String} AND destination_id = {id:String}",
        {"ws": workspace_id, "aud": audience_id, "id": destination_id},
    )
    return _destination(row) if row else None


def of_audience(
    db: ClickHouse, workspace_id: str, audience_id: str, status: str | None = None
) -> list[Destination]:
    sql = _SELECT + " AND audience_id = {aud:String}"
    params: dict[str, Any] = {"ws": workspace_id, "aud": audience_id}
    if status is not None:
        sql += " AND status = {status:String}"
        params["status"] = status
    rows = db.dicts(sql + " ORDER BY created_at, destination_id", params)
    return [_destination(row) for row in rows]


def needing_attention(db: ClickHouse, workspace_id: str) -> dict[str, tuple[int, int]]:
    """Per audience of the workspace that has any: (destinations paused, active destinations
    whose last finished sync failed), for lists that flag them."""
    rows = db.rows(
        """
        SELECT d.audience_id,
               countIf(d.status = 'paused') AS paused,
               countIf(d.status = 'active' AND s.last = 'failed') AS failing
        FROM destinations AS d FINAL
        LEFT JOIN (
            SELECT destination_id, argMax(status, (requested_at, sync_id)) AS last
            FROM destination_syncs FINAL
            WHERE workspace_id = {ws:String} AND status IN ('succeeded', 'partial', 'failed')
            GROUP BY destination_id
        ) AS s ON s.destination_id = d.destination_id
        WHERE d.workspace_id = {ws:String}
        GROUP BY d.audience_id
        HAVING paused + failing > 0
        """,
        {"ws": workspace_id},
    )
    return {audience_id: (int(paused), int(failing)) for audience_id, paused, failing in rows}
