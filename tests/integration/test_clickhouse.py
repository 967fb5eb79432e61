"""The ClickHouse facade on real chDB: what it reports of the statements it runs."""

from __future__ import annotations

from gurulu.common.clickhouse import ClickHouse, Stats


def test_a_statement_reports_the_rows_it_wrote_and_zero_when_it_wrote_none(db: ClickHouse):
    db.command("CREATE TABLE written (n UInt64) ENGINE = MergeTree ORDER BY n")
    wrote = db.command("INSERT INTO written SELECT number FROM numbers({n:UInt64})", {"n": 3})
    nothing = db.command("INSERT INTO written SELECT number FROM numbers(10) WHERE number > 99")
    assert wrote.written_rows == 3
    assert nothing.written_rows == 0
    assert db.scalar("SELECT count() FROM written") == 3


def test_a_summary_without_written_rows_is_unknown_not_zero():
    assert Stats.of({"read_rows": "5"}) == Stats(read_rows=5, written_rows=None)
    assert Stats.of({}).written_rows is None
