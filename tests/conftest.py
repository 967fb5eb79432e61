"""Test fixtures on the real engines.

chDB allows one data path per process, so a pytest process opens one path for the whole
session and isolates tests by database: each test that asks for `db` gets a fresh database
with every migration applied.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gurulu.common.clickhouse import ClickHouse, connect
from gurulu.common.schema import migrate

_databases = itertools.count()


@pytest.fixture(scope="session")
def chdb_dsn() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="gurulu-chdb-") as path:
        yield f"chdb://{Path(path) / 'clickhouse'}"


@pytest.fixture
def db(chdb_dsn: str) -> Iterator[ClickHouse]:
    name = f"t{os.getpid()}_{next(_databases)}"
    database = connect(chdb_dsn, name)
    migrate(database)
    yield database
    database.command(f"DROP DATABASE IF EXISTS `{name}` SYNC")
    database.close()
