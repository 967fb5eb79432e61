"""The ClickHouse schema, as ordered and idempotent migrations recorded in ClickHouse.

Every table leads its sort key with `workspace_id`, so every query, being scoped to one
workspace, reads only that workspace's granules. Mutable records (workspaces, cohorts,
audiences, runs, members) are `ReplacingMergeTree` rows: a change inserts a whole new row
with a higher `version`, and readers take the latest with `FINAL`. Nothing is updated in
place, which is what lets a refresh replay its writes without changing the outcome.

On a cluster (`GURULU_CLICKHOUSE_CLUSTER`), each table becomes a replicated local table
`<name>_local` plus a `Distributed` table `<name>` over it, both created `ON CLUSTER`, and
the queries, unchanged, run against the distributed tables. Rows are sharded by a hash of
their sort key (by person for events, people and members), which keeps every version of a
row on one shard, so `FINAL` and `argMax` stay exact; the materialised view from events to
people runs on each shard's local tables, where both are sharded by person.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gurulu.common.clickhouse import ClickHouse
from gurulu.common.clock import utcnow

TS = "DateTime64(6, 'UTC')"


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    engine: str
    order_by: str
    # How a cluster spreads rows over shards. By default the whole sort key, so that every
    # version of a row lands on one shard and FINAL, applied per shard, still sees them all.
    sharding_key: str | None = None
    partition_by: str | None = None

    def column_type(self, name: str) -> str:
        for column in self.columns:
            column_name, _, rest = column.partition(" ")
            if column_name == name:
                return rest.split(" DEFAULT ")[0]
        raise KeyError(name)

    def insert_sql(self, names: tuple[str, ...]) -> str:
        """`INSERT … SELECT` of one row with every value a bound parameter named after its
        column: one cheap statement, where a client-side insert costs a round trip more.
        SELECT rather than VALUES: parameters in VALUES send ClickHouse down its slow
        expression-evaluating path, about twice the cost of the whole insert in chDB."""
        values = ", ".join(f"{{{n}:{self.column_type(n)}}}" for n in names)
        return f"INSERT INTO `{self.name}` ({', '.join(names)}) SELECT {values}"

    def ddl(self, database: str, cluster: str | None = None) -> list[str]:
        body = ",\n  ".join(self.columns)
        partition = f"\nPARTITION BY {self.partition_by}" if self.partition_by else ""
        if cluster is None:
            return [
                f"CREATE TABLE IF NOT EXISTS `{self.name}` (\n  {body}\n)\n"
                f"ENGINE = {self.engine}{partition}\nORDER BY ({self.order_by})"
            ]
        local = f"{self.name}_local"
        return [
            f"CREATE TABLE IF NOT EXISTS `{local}` ON CLUSTER `{cluster}` (\n  {body}\n)\n"
            f"ENGINE = {replicated(self.engine)}{partition}\nORDER BY ({self.order_by})",
            f"CREATE TABLE IF NOT EXISTS `{self.name}` ON CLUSTER `{cluster}` AS `{local}`\n"
            f"ENGINE = Distributed(`{cluster}`, `{database}`, `{local}`,"
            f" {self.sharding_key or f'cityHash64({self.order_by})'})",
        ]


def replicated(engine: str) -> str:
    """`ReplacingMergeTree(version)` → `ReplicatedReplacingMergeTree(path, replica, version)`."""
    name, _, args = engine.partition("(")
    args = args.rstrip(")")
    path = "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"
    return f"Replicated{name}({path}{', ' + args if args else ''})"


WORKSPACES = Table(
    "workspaces",
    (
        "workspace_id String",
        "name String",
        "plan LowCardinality(String)",
        f"created_at {TS}",
        f"updated_at {TS}",
        "version UInt64",
        "is_deleted UInt8 DEFAULT 0",
    ),
    "ReplacingMergeTree(version, is_deleted)",
    "workspace_id",
)

WORKSPACE_KEYS = Table(
    "workspace_keys",
    (
        "key_id String",
        "workspace_id String",
        "secret_hash String",
        f"created_at {TS}",
        "version UInt64",
        "is_deleted UInt8 DEFAULT 0",
    ),
    "ReplacingMergeTree(version, is_deleted)",
    "key_id",
)

EVENTS = Table(
    "events",
    (
        "workspace_id LowCardinality(String)",
        "event LowCardinality(String)",
        "person_id String",
        "timestamp DateTime64(3, 'UTC')",
        "properties Map(String, String)",
        "received_at DateTime64(3, 'UTC') DEFAULT now64(3)",
    ),
    "MergeTree",
    "workspace_id, event, timestamp, person_id",
    sharding_key="cityHash64(workspace_id, person_id)",
)

# Everyone a workspace knows: people with a person record or at least one event. Negated
# rules ("not event:login in last 14d") are evaluated over this set.
PEOPLE = Table(
    "people",
    ("workspace_id LowCardinality(String)", "person_id String"),
    "ReplacingMergeTree",
    "workspace_id, person_id",
    sharding_key="cityHash64(workspace_id, person_id)",
)

PERSON_PROPERTIES = Table(
    "person_properties",
    (
        "workspace_id LowCardinality(String)",
        "person_id String",
        "key String",
        "value String",
        f"updated_at {TS}",
        "version UInt64",
        "is_deleted UInt8 DEFAULT 0",
    ),
    "ReplacingMergeTree(version, is_deleted)",
    "workspace_id, key, person_id",
    sharding_key="cityHash64(workspace_id, person_id)",
)

COHORTS = Table(
    "cohorts",
    (
        "workspace_id String",
        "cohort_id String",
        "name String",
        "definition String",
        "count UInt64",
        f"computed_at {TS}",
        f"created_at {TS}",
        f"updated_at {TS}",
        "version UInt64",
        "is_deleted UInt8 DEFAULT 0",
    ),
    "ReplacingMergeTree(version, is_deleted)",
    "workspace_id, cohort_id",
)

AUDIENCES = Table(
    "audiences",
    (
        "workspace_id String",
        "audience_id String",
        "name String",
        "source_cohort_id String",
        "sync LowCardinality(String)",
        "status LowCardinality(String)",
        f"created_at {TS}",
        f"updated_at {TS}",
        "version UInt64",
    ),
    "ReplacingMergeTree(version)",
    "workspace_id, audience_id",
)

AUDIENCE_MEMBERS = Table(
    "audience_members",
    (
        "workspace_id LowCardinality(String)",
        "audience_id String",
        "person_id String",
        f"joined_at {TS}",
        "run_id String",
        "version UInt64",
        "is_deleted UInt8",
    ),
    "ReplacingMergeTree(version, is_deleted)",
    "workspace_id, audience_id, person_id",
    sharding_key="cityHash64(workspace_id, person_id)",
)

# Who joined or left in which run. A run stages its delta here under an attempt number
# before touching the members; only the attempt its run record names counts.
AUDIENCE_CHANGES = Table(
    "audience_changes",
    (
        "workspace_id LowCardinality(String)",
        "audience_id String",
        "run_id String",
        "attempt UInt32",
        "person_id String",
        "change Enum8('joined' = 1, 'left' = 2)",
        f"at {TS}",
    ),
    "ReplacingMergeTree",
    "workspace_id, audience_id, run_id, attempt, person_id",
    sharding_key="cityHash64(workspace_id, person_id)",
)

REFRESH_RUNS = Table(
    "refresh_runs",
    (
        "workspace_id String",
        "audience_id String",
        "run_id String",
        "reason LowCardinality(String)",
        "status LowCardinality(String)",
        "attempt UInt32",
        "staged UInt8",
        f"requested_at {TS}",
        f"started_at Nullable({TS})",
        f"evaluated_at Nullable({TS})",
        f"finished_at Nullable({TS})",
        "member_count UInt64",
        "joined_count UInt64",
        "left_count UInt64",
        "rows_read UInt64",
        "definition String",
        "error String",
        "version UInt64",
    ),
    "ReplacingMergeTree(version)",
    "workspace_id, audience_id, run_id",
)

AUDIENCE_CHANGES_DAILY = Table(
    "audience_changes_daily",
    (
        "workspace_id String",
        "audience_id String",
        "snapshot_date Date",
        "member_count UInt64",
        "joined_count UInt64",
        "left_count UInt64",
        "net_change Int64",
        f"updated_at {TS}",
        "version UInt64",
    ),
    "ReplacingMergeTree(version)",
    "workspace_id, audience_id, snapshot_date",
)

MIGRATIONS_TABLE = Table(
    "schema_migrations",
    ("version UInt32", "name String", f"applied_at {TS}"),
    "ReplacingMergeTree(applied_at)",
    "version",
)

CORE_TABLES = (
    WORKSPACES,
    WORKSPACE_KEYS,
    EVENTS,
    PEOPLE,
    PERSON_PROPERTIES,
    COHORTS,
    AUDIENCES,
    AUDIENCE_MEMBERS,
    AUDIENCE_CHANGES,
    REFRESH_RUNS,
    AUDIENCE_CHANGES_DAILY,
)


def _core(database: str, cluster: str | None) -> list[str]:
    statements = [sql for table in CORE_TABLES for sql in table.ddl(database, cluster)]
    people = "people_local" if cluster else "people"
    events = "events_local" if cluster else "events"
    on_cluster = f" ON CLUSTER `{cluster}`" if cluster else ""
    statements.append(
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS `events_to_people`{on_cluster} TO `{people}`"
        f" AS SELECT DISTINCT workspace_id, person_id FROM `{events}`"
    )
    return statements


def _destinations(database: str, cluster: str | None) -> list[str]:
    # Imported here: the destination tables are built from `Table`, defined above.
    from gurulu.common.schema_destinations import DESTINATION_TABLES

    return [sql for table in DESTINATION_TABLES for sql in table.ddl(database, cluster)]


def _web_sessions(database: str, cluster: str | None) -> list[str]:
    # Imported here: the table is built from `Table`, defined above.
    from gurulu.common.store.web_sessions import ddl

    return ddl(database, cluster)


# How many of the latest inserts into events remember their deduplication token: a batch
# of events sent again with the same Idempotency-Key within them is not stored twice.
DEDUPLICATION_WINDOW = 10_000


def _retried_batches(database: str, cluster: str | None) -> list[str]:
    if cluster:
        return [
            f"ALTER TABLE `{database}`.`events_local` ON CLUSTER `{cluster}`"
            f" MODIFY SETTING replicated_deduplication_window = {DEDUPLICATION_WINDOW}"
        ]
    return [
        f"ALTER TABLE `{database}`.`events`"
        f" MODIFY SETTING non_replicated_deduplication_window = {DEDUPLICATION_WINDOW}"
    ]


Migration = tuple[int, str, Callable[[str, str | None], list[str]]]

MIGRATIONS: tuple[Migration, ...] = (
    (1, "core tables", _core),
    (2, "destinations", _destinations),
    (3, "ended web sessions", _web_sessions),
    (4, "events remember the batches sent with an idempotency key", _retried_batches),
)


def migrate(db: ClickHouse) -> list[int]:
    """Apply the migrations not recorded yet, in order; return the versions applied."""
    for sql in MIGRATIONS_TABLE.ddl(db.database, db.cluster):
        db.command(sql)
    done = {row[0] for row in db.rows("SELECT version FROM schema_migrations FINAL")}
    applied = []
    for version, name, statements in MIGRATIONS:
        if version in done:
            continue
        for sql in statements(db.database, db.cluster):
            db.command(sql)
        db.insert(
            "schema_migrations", [(version, name, utcnow())], ("version", "name", "applied_at")
        )
        applied.append(version)
    return applied


def pending(db: ClickHouse) -> list[int]:
    """Migrations not applied yet (readiness fails while there are any)."""
    done = {row[0] for row in db.rows("SELECT version FROM schema_migrations FINAL")}
    return [version for version, _, _ in MIGRATIONS if version not in done]
