"""The ClickHouse adapter: one client per process, for chDB (`chdb:///path`) or a server
(`http(s)://host:8123`), behind a small synchronous facade.

Every statement goes through `ClickHouse` with its values as bound parameters; SQL text is
never built from values. Calls block, so async code runs them with `asyncio.to_thread`
(chDB releases the GIL while a query runs). Timestamps come back as aware UTC datetimes.
"""

from __future__ import annotations

import io
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver._backend.chdb_backend import ChdbBackend
from clickhouse_connect.driver.client import Client

Params = dict[str, Any]
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Stats:
    """What ClickHouse reports about one statement. `written_rows` is None when the engine
    did not say, which callers must not read as zero."""

    read_rows: int = 0
    written_rows: int | None = None

    @classmethod
    def of(cls, summary: dict[str, Any]) -> Stats:
        written = summary.get("written_rows")
        return cls(int(summary.get("read_rows") or 0), None if written is None else int(written))


class _ChdbBackendWithStorageStats(ChdbBackend):
    """chDB reports the rows an INSERT … SELECT read as `storage_rows_read`, which the
    stock backend does not surface; the refresh records rows read per run from it."""

    @staticmethod
    def _summary(result: Any) -> dict[str, Any]:
        try:
            read = max(result.rows_read(), result.storage_rows_read())
            return {"read_rows": str(read), "written_rows": str(result.rows_written())}
        except Exception:  # a result without statistics is still a result
            return {}


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if isinstance(value, tuple):  # a Tuple column's elements
        return tuple(_aware(element) for element in value)
    return value


def _aware_row(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(_aware(value) for value in row)


class ClickHouse:
    """A database-scoped facade over a small pool of clickhouse-connect clients.

    A client holds one session, and statements on one session run one at a time; the pool
    lets the API, the evaluators and the snapshotter of one process query side by side
    (on chDB too: separate connections to one path run in parallel)."""

    def __init__(
        self,
        open_client: Callable[[], Client],
        database: str,
        cluster: str | None = None,
        pool_size: int = 4,
    ) -> None:
        self.database = database
        self.cluster = cluster
        self._open = open_client
        self._idle: queue.LifoQueue[Client] = queue.LifoQueue()
        self._all: list[Client] = []
        self._room = threading.BoundedSemaphore(pool_size)
        self._guard = threading.Lock()

    @contextmanager
    def session(self) -> Iterator[Client]:
        """A client of the pool, exclusively, for the duration of the block."""
        with self._room:
            try:
                client = self._idle.get_nowait()
            except queue.Empty:
                client = self._open()
                with self._guard:
                    self._all.append(client)
            try:
                yield client
            finally:
                self._idle.put(client)

    def rows(self, sql: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        with self.session() as client:
            result = client.query(sql, parameters=params or {})
        return [_aware_row(row) for row in result.result_rows]

    def dicts(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        with self.session() as client:
            result = client.query(sql, parameters=params or {})
        names = result.column_names
        return [dict(zip(names, _aware_row(row), strict=True)) for row in result.result_rows]

    def one(self, sql: str, params: Params | None = None) -> dict[str, Any] | None:
        found = self.dicts(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Params | None = None) -> Any:
        found = self.rows(sql, params)
        return found[0][0] if found else None

    def command(self, sql: str, params: Params | None = None) -> Stats:
        with self.session() as client:
            summary = client.command(sql, parameters=params or {})
        return Stats.of(getattr(summary, "summary", {}) or {})

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        columns: Sequence[str],
        deduplication_token: str | None = None,
    ) -> None:
        """Insert `rows`; with `deduplication_token`, an insert with the same token among
        the table's latest (its deduplication window) is not stored again."""
        if not rows:
            return
        settings = (
            {"insert_deduplication_token": deduplication_token} if deduplication_token else None
        )
        with self.session() as client:
            client.insert(table, rows, column_names=list(columns), settings=settings)

    def stream(self, sql: str, params: Params | None = None, fmt: str = "CSV") -> Iterator[bytes]:
        """Yield the result in `fmt` as ClickHouse produces it, a block at a time, so that
        memory stays flat whatever the size of the result."""
        with self.session() as client:
            source = client.raw_stream(sql, parameters=params or {}, fmt=fmt)
            reader = cast(io.IOBase, source)
            try:
                while chunk := reader.read(1 << 16):
                    yield chunk
            finally:
                reader.close()

    def close(self) -> None:
        with self._guard:
            clients, self._all = self._all, []
        for client in clients:
            client.close()


# On a cluster: subqueries over distributed tables run once and are shipped to the shards
# (GLOBAL), and an insert returns only once every shard has it, so that the next statement
# of a refresh reads what the previous one wrote.
CLUSTER_SETTINGS = {"distributed_product_mode": "global", "insert_distributed_sync": 1}


def _client(dsn: str, database: str | None, cluster: str | None = None) -> Client:
    settings = CLUSTER_SETTINGS if cluster else None
    scheme = urlparse(dsn).scheme
    # clickhouse-connect takes TLS from the port alone (443, 8443): say it from the scheme,
    # so that an https:// URL is never spoken to in plain text.
    client = clickhouse_connect.get_client(
        dsn=dsn,
        database=database,
        settings=settings,
        interface=None if scheme == "chdb" else scheme,
        secure=scheme == "https",
    )
    backend = getattr(client, "_backend", None)
    if type(backend) is ChdbBackend:
        backend.__class__ = _ChdbBackendWithStorageStats
    return client


def connect(dsn: str, database: str, cluster: str | None = None, pool_size: int = 4) -> ClickHouse:
    """Open the process's ClickHouse, creating `database` if it does not exist yet."""
    if urlparse(dsn).scheme not in ("chdb", "http", "https"):
        raise ValueError(f"unsupported ClickHouse URL {dsn!r}: use chdb:///path or http(s)://")
    if not _IDENTIFIER.match(database) or (cluster and not _IDENTIFIER.match(cluster)):
        raise ValueError("database and cluster names are letters, digits and underscores")
    bootstrap = _client(dsn, None, cluster)
    on_cluster = f" ON CLUSTER `{cluster}`" if cluster else ""
    bootstrap.command(f"CREATE DATABASE IF NOT EXISTS `{database}`{on_cluster}")
    bootstrap.close()
    return ClickHouse(lambda: _client(dsn, database, cluster), database, cluster, pool_size)
