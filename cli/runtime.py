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
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import redis.asyncio as aioredis
import uvicorn
from faststream.redis import RedisBroker
from gurulu.api.app import create_app
from gurulu.api.context import ApiContext
from gurulu.common import logs
from gurulu.common import redis as redis_support
from gurulu.common.clickhouse import ClickHouse, connect
from gurulu.common.messages import (
    EVALUATOR_GROUP,
    REFRESH_STREAM,
    REFRESHED_STREAM,
    SNAPSHOTTER_GROUP,
)
from gurulu.common.schema import migrate
from gurulu.common.settings import Settings
from gurulu.common.streams import consumer_name
from gurulu.evaluator.service import Evaluator, EvaluatorConfig
from gurulu.snapshotter.service import Snapshotter
from gurulu.ticker.ticker import Ticker, TickerConfig
from redis.exceptions import ResponseError

log = logs.get("gurulu.runtime")
SERVICES = ("api", "ticker", "evaluator", "snapshotter")
GROUPS = {
    "evaluator": (REFRESH_STREAM, EVALUATOR_GROUP),
    "snapshotter": (REFRESHED_STREAM, SNAPSHOTTER_GROUP),
}


@dataclass
class Options:
    services: tuple[str, ...] = SERVICES
    evaluators: int = 2
    claim_idle_ms: int = 60_000
    stuck_after_seconds: float = 300.0
    evaluator: EvaluatorConfig = field(default_factory=EvaluatorConfig)


class Runtime:
    """The process's clients: one ClickHouse pool, one Redis client, one broker."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedded: redis_support.EmbeddedRedis | None = None
        self.db: ClickHouse
        self.redis: aioredis.Redis
        self.broker: RedisBroker

    async def open(self) -> Runtime:
        settings = self.settings
        settings.data_path.mkdir(parents=True, exist_ok=True)
        self.db = await asyncio.to_thread(
            connect,
            settings.clickhouse_dsn,
            settings.clickhouse_database,
            settings.clickhouse_cluster,
        )
        await asyncio.to_thread(migrate, self.db)
        url = settings.redis_url
        if url is None:
            embedded = await asyncio.to_thread(
                redis_support.EmbeddedRedis, settings.data_path / "redis"
            )
            self.embedded, url = embedded, embedded.url
        self.redis = redis_support.client(url)
        # The broker's per-message lines go to DEBUG; the services log what matters.
        broker_log = logging.getLogger("gurulu.broker")
        self.broker = RedisBroker(
            url, graceful_timeout=300.0, logger=broker_log, log_level=logging.DEBUG
        )
        return self

    async def close(self) -> None:
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
) -> None:
    runtime = await Runtime(settings).open()
    tasks: list[asyncio.Task[None]] = []
    server: _Server | None = None
    try:
        _register_consumers(runtime, options)
        await runtime.broker.start()
        if "ticker" in options.services:
            ticker_config = TickerConfig(
                settings.tick_interval_seconds, options.stuck_after_seconds
            )
            ticker = Ticker(runtime.db, runtime.redis, runtime.broker, ticker_config)
            tasks.append(asyncio.create_task(ticker.run(stop), name="ticker"))
        consumed = [GROUPS[s] for s in options.services if s in GROUPS]
        tasks.append(asyncio.create_task(_keep_groups(runtime.redis, consumed, stop)))
        if "api" in options.services:
            server = _api_server(runtime, settings)
            tasks.append(asyncio.create_task(server.serve(), name="api"))
            while not server.started and not tasks[-1].done():
                await asyncio.sleep(0.02)
        if on_ready is not None:
            await on_ready(runtime)
        await stop.wait()
    finally:
        if server is not None:
            server.should_exit = True
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runtime.broker.stop()
        await runtime.close()


def _register_consumers(runtime: Runtime, options: Options) -> None:
    if "evaluator" in options.services:
        evaluator = Evaluator(runtime.db, runtime.redis, runtime.broker, options.evaluator)
        for index in range(options.evaluators):
            evaluator.register(consumer_name("evaluator", index))
    if "snapshotter" in options.services:
        snapshotter = Snapshotter(runtime.db, runtime.broker, options.claim_idle_ms)
        snapshotter.register(consumer_name("snapshotter"))


def _api_server(runtime: Runtime, settings: Settings) -> _Server:
    context = ApiContext(settings, runtime.db, runtime.redis, runtime.broker)
    config = uvicorn.Config(
        create_app(context),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        lifespan="off",
        access_log=False,
    )
    return _Server(config)


async def _keep_groups(
    redis: aioredis.Redis, groups: Iterable[tuple[str, str]], stop: asyncio.Event
) -> None:
    """Recreate consumer groups that vanished with Redis's data (a flush, a failover to an
    empty replica); the ticker's sweep re-sends whatever was in flight."""
    while not stop.is_set():
        for stream, group in groups:
            try:
                await redis.xgroup_create(stream, group, id="0", mkstream=True)
                log.warning("runtime.group_recreated", stream=stream, group=group)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    log.warning("runtime.group_check_failed", error=str(error))
            except Exception as error:
                log.warning("runtime.group_check_failed", error=str(error))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=2.0)


def install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
