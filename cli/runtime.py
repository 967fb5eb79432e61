"""The process runtime: builds the stores and the broker once, then runs the requested
services side by side on one event loop until told to stop.

`gurulu up` runs every service in one process on the embedded default (chDB and a
redis-server child under the data dir); `gurulu serve <service>` runs one of them against
`GURULU_CLICKHOUSE_URL` and `GURULU_REDIS_URL`. The code paths are the same: only URLs and
the set of services differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
import redis.asyncio as aioredis
import uvicorn
from faststream.redis import RedisBroker

from gurulu.api.app import create_app
from gurulu.api.context import ApiContext
from gurulu.common import crypto, logs, metrics, monitor
from gurulu.common import redis as redis_support
from gurulu.common.clickhouse import ClickHouse, connect
from gurulu.common.messages import (
    DESTINATION_SYNC_STREAM,
    DESTINATIONS_GROUP,
    EVALUATOR_GROUP,
    REFRESH_STREAM,
    REFRESHED_STREAM,
    SNAPSHOTTER_GROUP,
)
from gurulu.common.ops_http import create_ops_app
from gurulu.common.schema import migrate
from gurulu.common.settings import Settings
from gurulu.common.streams import consumer_name, ensure_groups, keep_groups
from gurulu.destinations import guard
from gurulu.destinations.service import DestinationsConfig, DestinationsService
from gurulu.destinations.sync import Syncer
from gurulu.evaluator.service import Evaluator, EvaluatorConfig
from gurulu.snapshotter.service import Snapshotter
from gurulu.ticker.ticker import Ticker, TickerConfig

log = logs.get("gurulu.runtime")
SERVICES = ("api", "ticker", "evaluator", "snapshotter", "destinations")
GROUPS: dict[str, tuple[tuple[str, str], ...]] = {
    "evaluator": ((REFRESH_STREAM, EVALUATOR_GROUP),),
    "snapshotter": ((REFRESHED_STREAM, SNAPSHOTTER_GROUP),),
    "destinations": (
        (REFRESHED_STREAM, DESTINATIONS_GROUP),
        (DESTINATION_SYNC_STREAM, DESTINATIONS_GROUP),
    ),
}
ALL_GROUPS = [group for groups in GROUPS.values() for group in groups]


@dataclass(frozen=True)
class Options:
    services: tuple[str, ...] = SERVICES
    evaluators: int = 2


class CannotStart(Exception):
    """A store the process needs could not be reached at start-up."""


class StoreLost(Exception):
    """A store the process runs itself stopped under it (the embedded Redis was killed)."""


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=f"{user}{host}{port}"))


def _first_line(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:300]


class Runtime:
    """The process's clients: one ClickHouse pool, one Redis client, one broker."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedded: redis_support.EmbeddedRedis | None = None
        self.db: ClickHouse
        self.redis: aioredis.Redis
        self.broker: RedisBroker
        self.http: httpx.AsyncClient | None = None  # the destinations' client, if they run

    async def open(self) -> Runtime:
        """Open the stores, or say in one line which one could not be reached and why."""
        settings = self.settings
        try:
            settings.data_path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CannotStart(
                f"cannot use {settings.data_path} as the data dir: {error.strerror or error}"
            ) from error
        try:
            self.db = await asyncio.to_thread(
                connect,
                settings.clickhouse_dsn,
                settings.clickhouse_database,
                settings.clickhouse_cluster,
            )
        except Exception as error:
            where = _without_password(settings.clickhouse_dsn)
            raise CannotStart(f"cannot open ClickHouse at {where}: {_first_line(error)}") from error
        await asyncio.to_thread(migrate, self.db)
        url = settings.redis_url
        if url is None:
            try:
                embedded = await asyncio.to_thread(
                    redis_support.EmbeddedRedis, settings.data_path / "redis"
                )
            except Exception as error:
                await asyncio.to_thread(self.db.close)
                where = settings.data_path / "redis"
                raise CannotStart(
                    f"cannot start the embedded Redis in {where}: {_first_line(error)}"
                ) from error
            self.embedded, url = embedded, embedded.url
        try:
            self.redis = redis_support.client(url)
            await self.redis.ping()
        except Exception as error:
            await asyncio.to_thread(self.db.close)
            if self.embedded is not None:
                await asyncio.to_thread(self.embedded.stop)
            where = _without_password(url)
            raise CannotStart(f"cannot reach Redis at {where}: {_first_line(error)}") from error
        # The broker's per-message lines go to DEBUG; the services log what matters.
        broker_log = logging.getLogger("gurulu.broker")
        self.broker = RedisBroker(
            url, graceful_timeout=300.0, logger=broker_log, log_level=logging.DEBUG
        )
        return self

    async def close(self) -> None:
        if self.http is not None:
            await self.http.aclose()
        with contextlib.suppress(Exception):
            await self.redis.aclose()
        await asyncio.to_thread(self.db.close)
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the runtime decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def]
        yield


async def run(
    settings: Settings,
    options: Options,
    stop: asyncio.Event,
    on_ready: Callable[[Runtime], Awaitable[None]] | None = None,
    prepare: Callable[[Runtime], Awaitable[None]] | None = None,
) -> None:
    """The process's services until `stop` is set. `prepare` runs once the stores are open,
    before any service starts; `on_ready` once they all have, the HTTP server listening."""
    metrics.REFRESH_INTERVAL.set(settings.tick_interval_seconds)
    port = settings.http_port if "api" in options.services else settings.metrics_port
    _check_listen(settings.http_host, port)  # before any store is opened or started
    runtime = await Runtime(settings).open()
    lost: list[str] = []
    tasks: list[asyncio.Task[None]] = []
    server: _Server | None = None
    try:
        if prepare is not None:
            await prepare(runtime)
            if stop.is_set():  # asked to stop while it prepared: start nothing
                return
        consumed = [group for s in options.services for group in GROUPS.get(s, ())]
        # Groups read from the start of their stream: requests made before a service first
        # ran (the API up before any evaluator) are not skipped.
        await ensure_groups(runtime.redis, consumed)
        _register_consumers(runtime, options)
        await runtime.broker.start()
        if "ticker" in options.services:
            ticker_config = TickerConfig(
                settings.tick_interval_seconds, settings.stuck_after_seconds
            )
            ticker = Ticker(runtime.db, runtime.redis, runtime.broker, ticker_config)
            tasks.append(asyncio.create_task(ticker.run(stop), name="ticker"))
        if runtime.embedded is not None:
            tasks.append(asyncio.create_task(_watch(runtime.embedded, stop, lost)))
        tasks.append(asyncio.create_task(keep_groups(runtime.redis, consumed, stop)))
        tasks.append(asyncio.create_task(monitor.watch(runtime.redis, ALL_GROUPS, stop)))
        server = _http_server(runtime, settings, "api" in options.services)
        tasks.append(asyncio.create_task(server.serve(), name="http"))
        while not server.started and not tasks[-1].done():
            await asyncio.sleep(0.02)
        if on_ready is not None:
            await on_ready(runtime)
        log.info("runtime.started", services=list(options.services))
        await stop.wait()
        log.info("runtime.stopping")
    finally:
        if server is not None:
            server.should_exit = True
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runtime.broker.stop()
        await runtime.close()
        log.info("runtime.stopped")
    if lost:
        raise StoreLost(lost[0])


async def _watch(
    embedded: redis_support.EmbeddedRedis, stop: asyncio.Event, lost: list[str]
) -> None:
    """Stop the whole process if its own redis-server dies: nothing restarts it, and a
    process without its Redis would only look alive. (Whatever was owed is in ClickHouse's
    runs; the next start sends it.)"""
    while not stop.is_set():
        if not embedded.alive():
            lost.append(f"the embedded Redis (pid {embedded.pid}) stopped; start gurulu again")
            log.error("redis.embedded_stopped", pid=embedded.pid)
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=2.0)


def _register_consumers(runtime: Runtime, options: Options) -> None:
    settings = runtime.settings
    claim_idle_ms = int(settings.claim_idle_seconds * 1000)
    if "evaluator" in options.services:
        config = EvaluatorConfig(
            max_deliveries=settings.max_deliveries,
            claim_idle_ms=claim_idle_ms,
            lock_ttl_seconds=settings.lock_ttl_seconds,
            lock_wait_seconds=min(30.0, settings.lock_ttl_seconds / 2),
        )
        evaluator = Evaluator(runtime.db, runtime.redis, runtime.broker, config)
        for index in range(options.evaluators):
            evaluator.register(consumer_name("evaluator", index))
    if "snapshotter" in options.services:
        snapshotter = Snapshotter(runtime.db, runtime.broker, claim_idle_ms)
        snapshotter.register(consumer_name("snapshotter"))
    if "destinations" in options.services:
        _register_destinations(runtime, claim_idle_ms)


def _register_destinations(runtime: Runtime, claim_idle_ms: int) -> None:
    settings = runtime.settings
    # httpx logs each request's URL at INFO; a webhook URL may carry its receiver's token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    runtime.http = guard.client(settings)
    syncer = Syncer(runtime.db, runtime.http, crypto.vault(settings))
    config = DestinationsConfig(
        max_deliveries=settings.max_deliveries,
        claim_idle_ms=claim_idle_ms,
        lock_ttl_seconds=settings.lock_ttl_seconds,
        lock_wait_seconds=min(30.0, settings.lock_ttl_seconds / 2),
    )
    service = DestinationsService(runtime.db, runtime.redis, runtime.broker, syncer, config)
    service.register(consumer_name("destinations"))


def _check_listen(host: str, port: int) -> None:
    """Say in one line why the process could not listen where it is told to, if it cannot
    (the port is taken, the host is no address of this machine)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, _, _, _, address = infos[0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        reason = error.strerror or str(error)
        raise CannotStart(f"cannot listen on {host}:{port}: {reason}") from error


def _http_server(runtime: Runtime, settings: Settings, api: bool) -> _Server:
    """The API (with /metrics for every service of the process), or for a process without
    it, the small listener of /healthz, /readyz and /metrics on the metrics port."""
    if api:
        context = ApiContext(settings, runtime.db, runtime.redis, runtime.broker)
        app, port = create_app(context), settings.http_port
    else:
        app, port = create_ops_app(runtime.db, runtime.redis), settings.metrics_port
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=port,
        log_config=None,
        lifespan="off",
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    return _Server(config)


def install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
