"""What a destination has acknowledged, and the delta each sync owes it.

`destination_members` holds, per destination, the latest acknowledged change of each
person (an add with the hashes that were sent, or a remove as a tombstone). A sync stages
its delta once, inside ClickHouse, with the evaluator's shape of query: audience members
and acknowledged people side by side, one GROUP BY per person — to add if a member the
destination does not have, to remove if the destination has someone who is not a member
(mirror mode only). The staged rows are then read a page at a time with keyset pagination
on person_id; no member list is ever loaded whole.
"""

from __future__ import annotations

from collections.abc import Sequence

from gurulu.common.clickhouse import ClickHouse
from gurulu.common.store.versions import next_version

from .platforms.base import Change, Row

_STAGE = """
INSERT INTO destination_changes
    (workspace_id, destination_id, sync_id, attempt, change, person_id, email_sha256, phone_sha256)
SELECT {ws:String}, {dest:String}, {sync:String}, {attempt:UInt32},
       if(member, 'add', 'remove'), person_id, if(member, '', email), if(member, '', phone)
FROM (
    SELECT person_id,
           argMaxIf(is_deleted = 0, version, source = 1) AS member,
           argMaxIf(is_deleted = 0, version, source = 2) AS present,
           argMaxIf(email_sha256, version, source = 2) AS email,
           argMaxIf(phone_sha256, version, source = 2) AS phone
    FROM (
        SELECT person_id, toUInt8(1) AS source, version, is_deleted,
               '' AS email_sha256, '' AS phone_sha256
        FROM audience_members
        WHERE workspace_id = {ws:String} AND audience_id = {aud:String}
        UNION ALL
        SELECT person_id, toUInt8(2), version, is_deleted, email_sha256, phone_sha256
        FROM destination_members
        WHERE workspace_id = {ws:String} AND destination_id = {dest:String}
    )
    GROUP BY person_id
    HAVING member != present AND (member = 1 OR {mirror:UInt8} = 1)
)
"""

_WHERE = """
WHERE workspace_id = {ws:String} AND destination_id = {dest:String}
  AND sync_id = {sync:String} AND attempt = {attempt:UInt32}
"""

_COUNTS = "SELECT countIf(change = 'add'), countIf(change = 'remove') FROM destination_changes"

_PAGE = """
SELECT person_id, email_sha256, phone_sha256 FROM destination_changes FINAL
__WHERE__ AND change = {change:String} AND person_id > {after:String}
ORDER BY person_id LIMIT {limit:UInt32}
"""

_MARKED = """
SELECT count() FROM destination_members
WHERE workspace_id = {ws:String} AND destination_id = {dest:String}
  AND sync_id = {sync:String} AND change = {change:String} AND batch_seq = {seq:UInt32}
"""

_MEMBER_COLUMNS = (
    "workspace_id",
    "destination_id",
    "person_id",
    "email_sha256",
    "phone_sha256",
    "sync_id",
    "change",
    "batch_seq",
    "version",
    "is_deleted",
)


def stage(
    db: ClickHouse,
    workspace_id: str,
    audience_id: str,
    destination_id: str,
    sync_id: str,
    attempt: int,
    mirror: bool,
) -> tuple[int, int]:
    """Stage the sync's delta under `attempt`; return (to add, to remove)."""
    keys = {"ws": workspace_id, "dest": destination_id, "sync": sync_id, "attempt": attempt}
    db.command(_STAGE, keys | {"aud": audience_id, "mirror": int(mirror)})
    add, remove = db.rows(_COUNTS + " FINAL" + _WHERE, keys)[0]
    return int(add), int(remove)


def page(
    db: ClickHouse,
    workspace_id: str,
    destination_id: str,
    sync_id: str,
    attempt: int,
    change: Change,
    after: str,
    limit: int,
) -> list[Row]:
    params = {
        "ws": workspace_id,
        "dest": destination_id,
        "sync": sync_id,
        "attempt": attempt,
        "change": change,
        "after": after,
        "limit": limit,
    }
    return [Row(*row) for row in db.rows(_PAGE.replace("__WHERE__", _WHERE), params)]


def marked(
    db: ClickHouse, workspace_id: str, destination_id: str, sync_id: str, change: Change, seq: int
) -> int:
    """People already recorded for this batch: it landed, but its record was not written."""
    params = {"ws": workspace_id, "dest": destination_id, "sync": sync_id}
    return int(db.scalar(_MARKED, params | {"change": change, "seq": seq}) or 0)


def mark(
    db: ClickHouse,
    workspace_id: str,
    destination_id: str,
    sync_id: str,
    change: Change,
    seq: int,
    rows: Sequence[Row],
) -> None:
    """Record what the destination acknowledged: adds with their hashes, removes as
    tombstones. One insert per batch, so a batch is recorded whole or not at all."""
    version = next_version()
    db.insert(
        "destination_members",
        [
            (
                workspace_id,
                destination_id,
                row.person_id,
                row.email_sha256,
                row.phone_sha256,
                sync_id,
                change,
                seq,
                version,
                int(change == "remove"),
            )
            for row in rows
        ],
        _MEMBER_COLUMNS,
    )
