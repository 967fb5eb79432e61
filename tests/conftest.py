"""Test fixtures on the real engines.

chDB allows one data path per process, so a pytest process opens one path for the whole
session and isolates tests by database: each test that asks for `db` gets a fresh database
with every migration applied.

The store tests run on chDB by default. `GURULU_TEST_CLICKHOUSE_URL` runs them on a
ClickHouse server instead: the `http(s)://` URL of one you have, or `docker` for a
throwaway server of the same ClickHouse release as chDB, started with testcontainers (it
needs a Docker engine). The end-to-end tests keep the embedded default they are about.
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
SERVER_IMAGE = "clickhouse/clickhouse-server:26.9"  # chDB 4.4 is ClickHouse 26.9


@pytest.fixture(scope="session")
def clickhouse_dsn() -> Iterator[str]:
    wanted = os.environ.get("GURULU_TEST_CLICKHOUSE_URL", "")
    if wanted == "docker":
        yield from _server_in_docker()
    elif wanted:
        yield wanted
    else:
        with tempfile.TemporaryDirectory(prefix="gurulu-chdb-") as path:
            yield f"chdb://{Path(path) / 'clickhouse'}"


def _server_in_docker() -> Iterator[str]:
    from docker.errors import DockerException
    from testcontainers.community.clickhouse import ClickHouseContainer

    try:
        server = ClickHouseContainer(SERVER_IMAGE).start()
    except DockerException as error:
        pytest.exit(f"GURULU_TEST_CLICKHOUSE_URL=docker needs a Docker engine: {error}", 2)
    try:
        host, port = server.get_container_host_ip(), server.get_exposed_port(8123)
        yield f"http://{server.username}:{server.password}@{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def db(clickhouse_dsn: str) -> Iterator[ClickHouse]:
    name = f"t{os.getpid()}_{next(_databases)}"
    database = connect(clickhouse_dsn, name)
    migrate(database)
    yield database
    database.command(f"DROP DATABASE IF EXISTS `{name}` SYNC")
    database.close()
