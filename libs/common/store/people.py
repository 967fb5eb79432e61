"""Events and people: what rules are evaluated over.

Events are appended; the `events_to_people` materialised view adds everyone who did
something to `people` in the same insert. Person properties are one row per (person, key),
so that merging new properties into a person is a plain insert: the latest version of
each key wins, and a null removes it. No read-modify-write, so concurrent upserts of one
person cannot lose each other's keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from gurulu.common.clickhouse import ClickHouse
from gurulu.common.clock import utcnow
from gurulu.common.store.versions import next_version


@dataclass(frozen=True)
class Event:
    event: str
    person_id: str
    timestamp: datetime
    properties: Mapping[str, Any]


@dataclass(frozen=True)
class Person:
    person_id: str
    properties: Mapping[str, Any]


def as_text(value: Any) -> str:
    """How a property value is stored: text as is, numbers and booleans as JSON spells
    them (so `amount > 100` can compare them numerically), objects and lists as JSON."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def insert_events(
    db: ClickHouse, workspace_id: str, events: Sequence[Event], idempotency_key: str | None = None
) -> int:
    """Store a batch of events. A batch sent with an `idempotency_key` this workspace has
    sent a batch with lately is taken as that batch sent again, and not stored twice."""
    rows = [
        (
            workspace_id,
            e.event,
            e.person_id,
            e.timestamp,
            {k: as_text(v) for k, v in e.properties.items() if v is not None},
        )
        for e in events
    ]
    token = f"{workspace_id}:{idempotency_key}" if idempotency_key else None
    columns = ("workspace_id", "event", "person_id", "timestamp", "properties")
    db.insert("events", rows, columns, deduplication_token=token)
    return len(rows)


def upsert_persons(db: ClickHouse, workspace_id: str, persons: Sequence[Person]) -> int:
    now = utcnow()
    properties = [
        (
            workspace_id,
            p.person_id,
            key,
            "" if value is None else as_text(value),
            now,
            next_version(),
            int(value is None),
        )
        for p in persons
        for key, value in p.properties.items()
    ]
    # Properties first: a person becomes known with their people row, so a batch that
    # fails between the two writes adds nobody (a retry writes both again).
    db.insert(
        "person_properties",
        properties,
        ("workspace_id", "person_id", "key", "value", "updated_at", "version", "is_deleted"),
    )
    db.insert(
        "people", [(workspace_id, p.person_id) for p in persons], ("workspace_id", "person_id")
    )
    return len(persons)


def properties_of(
    db: ClickHouse, workspace_id: str, person_ids: Iterable[str], keys: Sequence[str]
) -> dict[str, dict[str, str]]:
    """The current values of `keys` for a handful of people (a page, not a member list)."""
    rows = db.rows(
        "SELECT person_id, key, argMax(value, version), argMax(is_deleted, version)"
        " FROM person_properties WHERE workspace_id = {ws:String}"
        " AND key IN {keys:Array(String)} AND person_id IN {ids:Array(String)}"
        " GROUP BY person_id, key",
        {"ws": workspace_id, "keys": list(keys), "ids": list(person_ids)},
    )
    found: dict[str, dict[str, str]] = {}
    for person_id, key, value, deleted in rows:
        if not deleted:
            found.setdefault(person_id, {})[key] = value
    return found


def event_names(db: ClickHouse, workspace_id: str, limit: int = 500) -> list[str]:
    """The events a workspace has seen, for suggestions where rules are written (the
    events table's sort key starts with workspace and event, so this reads little)."""
    rows = db.rows(
        "SELECT DISTINCT event FROM events WHERE workspace_id = {ws:String}"
        " ORDER BY event LIMIT {limit:UInt32}",
        {"ws": workspace_id, "limit": limit},
    )
    return [row[0] for row in rows]


def events_seen(db: ClickHouse, workspace_id: str, events: Sequence[str]) -> list[str]:
    """Which of these events the workspace has seen at least once (read by sort key)."""
    rows = db.rows(
        "SELECT DISTINCT event FROM events WHERE workspace_id = {ws:String}"
        " AND event IN {events:Array(String)}",
        {"ws": workspace_id, "events": list(events)},
    )
    return [row[0] for row in rows]


def property_keys(db: ClickHouse, workspace_id: str, limit: int = 500) -> list[str]:
    """The person property keys a workspace has, for suggestions where rules are written."""
    rows = db.rows(
        "SELECT DISTINCT key FROM person_properties WHERE workspace_id = {ws:String}"
        " ORDER BY key LIMIT {limit:UInt32}",
        {"ws": workspace_id, "limit": limit},
    )
    return [row[0] for row in rows]
