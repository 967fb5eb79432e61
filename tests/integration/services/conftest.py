"""The real services (evaluators, snapshotter, ticker) on a real redis-server, in the test's
event loop, over the test's chDB database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis
from faststream.redis import RedisBroker

from gurulu.common import redis as redis_support
from gurulu.common.clickhouse import ClickHouse
from gurulu.common.messages import (
    EVALUATOR_GROUP,
    REFRESH_STREAM,
    REFRESHED_STREAM,
    SNAPSHOTTER_GROUP,
)
from gurulu.common.streams import consumer_name, ensure_groups, keep_groups
from gurulu.evaluator.service import Evaluator, EvaluatorConfig
from gurulu.snapshotter.service import Snapshotter

GROUPS = [(REFRESH_STREAM, EVALUATOR_GROUP), (REFRESHED_STREAM, SNAPSHOTTER_GROUP)]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = redis_support.EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    yield server.url
    server.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = redis_support.client(redis_url)
    await client.flushall()
    yield client
    await client.aclose()


@dataclass
class Services:
    db: ClickHouse
    redis: aioredis.Redis
    broker: RedisBroker
    evaluators: list[Evaluator] = field(default_factory=list)


@asynccontextmanager
async def running(
    db: ClickHouse,
    redis_url: str,
    evaluators: int = 1,
    config: EvaluatorConfig | None = None,
    patch: Callable[[Evaluator], Any] | None = None,
) -> AsyncIterator[Services]:
    """Evaluators and a snapshotter consuming from the embedded redis-server."""
    client = redis_support.client(redis_url)
    broker = RedisBroker(redis_url, graceful_timeout=30.0, logger=None)
    config = config or EvaluatorConfig(claim_idle_ms=300, lock_wait_seconds=5.0)
    await ensure_groups(client, GROUPS)
    found = Services(db, client, broker)
    for index in range(evaluators):
        evaluator = Evaluator(db, client, broker, config)
        if patch is not None:
            patch(evaluator)
        evaluator.register(consumer_name("evaluator", index))
        found.evaluators.append(evaluator)
    Snapshotter(db, broker, claim_idle_ms=300).register(consumer_name("snapshotter"))
    stop = asyncio.Event()
    await broker.start()
    groups = asyncio.create_task(keep_groups(client, GROUPS, stop, every_seconds=0.2))
    try:
        yield found
    finally:
        stop.set()
        await groups
        await broker.stop()
        await client.aclose()


async def eventually(check: Callable[[], Any], timeout: float = 20.0, every: float = 0.1) -> Any:
    """Poll `check` (sync, run off the loop) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {check}")
        await asyncio.sleep(every)
