"""The tables of the destinations (migration 2 of `schema`): the connections, what each
destination has acknowledged, the staged delta of each sync, the syncs and their landed
batches. A sync stages its delta once, pages through it in batches of the platform's limit,
and records each batch right after the platform acknowledged it; see
`gurulu.destinations.sync`."""

from __future__ import annotations

from gurulu.common.schema import TS, Table

# A destination is one audience's connection to an ad platform
# or a webhook; its credentials are stored encrypted (Fernet), never in clear.
DESTINATIONS = Table(
    "destinations",
    (
        "workspace_id String",
        "destination_id String",
        "audience_id String",
        "type LowCardinality(String)",
        "name String",
        "mode LowCardinality(String)",
        "status LowCardinality(String)",
        "paused_reason String",
        "config String",
        "credentials String",
        "credential_hints String",
        f"created_at {TS}",
        f"updated_at {TS}",
        "version UInt64",
        "is_deleted UInt8 DEFAULT 0",
    ),
    "ReplacingMergeTree(version, is_deleted)",
    "workspace_id, audience_id, destination_id",
)

# What each destination has acknowledged: one row per person, the latest version wins, a
# tombstone once a remove was acknowledged. The hashes are the identifiers that were sent,
# so that a remove takes away exactly what an add put there.
DESTINATION_MEMBERS = Table(
    "destination_members",
    (
        "workspace_id LowCardinality(String)",
        "destination_id String",
        "person_id String",
        "email_sha256 String",
        "phone_sha256 String",
        "sync_id String",
        "change LowCardinality(String)",
        "batch_seq UInt32",
        "version UInt64",
        "is_deleted UInt8",
    ),
    "ReplacingMergeTree(version, is_deleted)",
    "workspace_id, destination_id, person_id",
    sharding_key="cityHash64(workspace_id, person_id)",
)

# The delta of one sync, staged once under (sync, attempt) and paged through in batches.
DESTINATION_CHANGES = Table(
    "destination_changes",
    (
        "workspace_id LowCardinality(String)",
        "destination_id String",
        "sync_id String",
        "attempt UInt32",
        "change Enum8('add' = 1, 'remove' = 2)",
        "person_id String",
        "email_sha256 String",
        "phone_sha256 String",
    ),
    "ReplacingMergeTree",
    "workspace_id, destination_id, sync_id, attempt, change, person_id",
    sharding_key="cityHash64(workspace_id, destination_id)",
)

DESTINATION_SYNCS = Table(
    "destination_syncs",
    (
        "workspace_id String",
        "audience_id String",
        "destination_id String",
        "sync_id String",
        "run_id String",
        "trigger LowCardinality(String)",
        "status LowCardinality(String)",
        "attempt UInt32",
        "staged UInt8",
        "to_add UInt64",
        "to_remove UInt64",
        "added UInt64",
        "removed UInt64",
        "skipped UInt64",
        "skipped_reasons Map(String, UInt64)",
        "rejected UInt64",
        "rejected_sample String",
        "batches UInt32",
        "error String",
        f"requested_at {TS}",
        f"refreshed_at Nullable({TS})",
        f"started_at Nullable({TS})",
        f"finished_at Nullable({TS})",
        "version UInt64",
    ),
    "ReplacingMergeTree(version)",
    "workspace_id, audience_id, destination_id, sync_id",
)

# A batch the platform acknowledged: written right after its answer, it is what a resumed
# sync reads to carry on after the last batch that landed.
DESTINATION_BATCHES = Table(
    "destination_batches",
    (
        "workspace_id String",
        "destination_id String",
        "sync_id String",
        "change LowCardinality(String)",
        "batch_seq UInt32",
        "last_person_id String",
        "sent UInt32",
        "accepted UInt32",
        "rejected UInt32",
        "skipped UInt32",
        "skipped_reasons Map(String, UInt64)",
        "rejected_sample String",
        f"landed_at {TS}",
        "version UInt64",
    ),
    "ReplacingMergeTree(version)",
    "workspace_id, destination_id, sync_id, change, batch_seq",
)

DESTINATION_TABLES = (
    DESTINATIONS,
    DESTINATION_MEMBERS,
    DESTINATION_CHANGES,
    DESTINATION_SYNCS,
    DESTINATION_BATCHES,
)
