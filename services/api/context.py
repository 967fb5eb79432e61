"""What the API's use cases work with: the process's stores and broker, built once at
start-up by the runtime and handed to the app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import redis.asyncio as aioredis
from faststream.redis import RedisBroker

from gurulu.common import locks
from gurulu.common.clickhouse import ClickHouse
from gurulu.common.errors import GuruluError
from gurulu.common.settings import Settings


class Busy(GuruluError):
    code = "busy"
    status = 503


@dataclass
class ApiContext:
    settings: Settings
    db: ClickHouse
    redis: aioredis.Redis
    broker: RedisBroker

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str, workspace_id: str) -> AsyncIterator[None]:
        """Serialise a check-then-write (quota, unique names) across API replicas. The lock
        is extended while the block runs, so a slow store cannot let another replica in
        between the check and the write."""
        try:
            async with locks.held(self.redis, locks.workspace_key(name, workspace_id), 30, 15):
                yield
        except locks.Busy:
            raise Busy("the workspace is busy with another change; try again") from None

    async def run(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        """Run a blocking store call off the event loop."""
        return await asyncio.to_thread(fn, *args, **kwargs)
