"""The schema's DDL on a cluster: replicated local tables and distributed tables over them,
created ON CLUSTER, sharded so that every version of a row lands on one shard; and a blank
cluster name, which is no cluster at all (migrated on chDB)."""

from __future__ import annotations

import os
import re

import pytest

from gurulu.common.clickhouse import CLUSTER_SETTINGS, connect
from gurulu.common.schema import (
    CORE_TABLES,
    MIGRATIONS,
    MIGRATIONS_TABLE,
    Table,
    migrate,
    replicated,
)
from gurulu.common.settings import Settings

TABLES = [*CORE_TABLES, MIGRATIONS_TABLE]


def all_statements(cluster: str | None) -> list[str]:
    found = MIGRATIONS_TABLE.ddl("gurulu", cluster)
    for _, _, statements in MIGRATIONS:
        found += statements("gurulu", cluster)
    return found


def test_without_a_cluster_every_table_is_one_plain_table():
    for statement in all_statements(None):
        assert "ON CLUSTER" not in statement and "Replicated" not in statement
        assert "Distributed" not in statement


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_on_a_cluster_each_table_is_a_replicated_local_table_and_a_distributed_one(table: Table):
    local, distributed = table.ddl("gurulu", "analytics")
    assert local.startswith(
        f"CREATE TABLE IF NOT EXISTS `{table.name}_local` ON CLUSTER `analytics`"
    )
    engine = re.search(r"ENGINE = (\w+)\((.*)\)\n", local)
    assert engine and engine.group(1) == "Replicated" + table.engine.split("(")[0]
    assert engine.group(2).startswith(
        "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"
    )
    version_args = table.engine.partition("(")[2].rstrip(")")
    if version_args:
        assert engine.group(2).endswith(version_args)
    assert f"ORDER BY ({table.order_by})" in local
    assert distributed.startswith(
        f"CREATE TABLE IF NOT EXISTS `{table.name}` ON CLUSTER `analytics` AS `{table.name}_local`"
    )
    assert f"Distributed(`analytics`, `gurulu`, `{table.name}_local`," in distributed


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_rows_are_sharded_by_their_key_so_final_sees_every_version_on_one_shard(table: Table):
    _, distributed = table.ddl("gurulu", "analytics")
    sharding = distributed.rsplit(",", 1)[1].strip().rstrip(")")
    key_columns = {c.strip() for c in table.order_by.split(",")}
    sharded_by = set(re.findall(r"[a-z_]+", sharding.replace("cityHash64", "")))
    assert sharded_by, table.name
    # Sharding uses only sort-key columns, so all versions of a key share a shard.
    assert sharded_by <= key_columns, (table.name, sharded_by - key_columns)
    assert "rand()" not in sharding


def test_the_materialised_view_reads_and_writes_the_local_tables_on_a_cluster():
    [view] = [s for s in all_statements("analytics") if "MATERIALIZED VIEW" in s]
    assert "ON CLUSTER `analytics`" in view
    assert "TO `people_local`" in view and "FROM `events_local`" in view


def test_replicated_engine_keeps_the_version_and_tombstone_columns():
    assert replicated("ReplacingMergeTree(version, is_deleted)") == (
        "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}',"
        " '{replica}', version, is_deleted)"
    )
    assert replicated("MergeTree") == (
        "ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')"
    )


def test_queries_on_a_cluster_ship_subqueries_globally_and_insert_synchronously():
    assert CLUSTER_SETTINGS == {"distributed_product_mode": "global", "insert_distributed_sync": 1}


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_cluster_name_is_no_cluster_and_migrates_like_an_unset_one(
    blank, clickhouse_dsn, monkeypatch
):
    monkeypatch.delenv("GURULU_CLICKHOUSE_CLUSTER", raising=False)
    unset = Settings(_env_file=None)
    monkeypatch.setenv("GURULU_CLICKHOUSE_CLUSTER", blank)  # as deploy/k8s/config.yaml has it
    empty = Settings(_env_file=None)
    assert unset.clickhouse_cluster is None and empty.clickhouse_cluster is None
    tables = {}
    for name, settings in (("unset", unset), ("empty", empty)):
        database = f"cluster_{name}_{os.getpid()}"
        db = connect(clickhouse_dsn, database, settings.clickhouse_cluster)
        try:
            assert migrate(db) == [version for version, _, _ in MIGRATIONS]
            tables[name] = {row[0] for row in db.rows(f"SHOW TABLES FROM `{database}`")}
        finally:
            db.command(f"DROP DATABASE IF EXISTS `{database}` SYNC")
            db.close()
    assert tables["empty"] == tables["unset"] >= {table.name for table in TABLES}
    assert not any(name.endswith("_local") for name in tables["empty"])


def test_a_cluster_name_that_is_not_an_identifier_is_refused():
    assert Settings(_env_file=None, clickhouse_cluster=" analytics ").clickhouse_cluster == (
        "analytics"
    )
    with pytest.raises(ValueError):
        Settings(_env_file=None, clickhouse_cluster="analytics`; DROP")
