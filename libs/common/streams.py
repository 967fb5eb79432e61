"""The streams between services: publishing messages and consuming them in groups.

Every consumer is two FastStream subscribers in the same group: one reads new entries,
the other claims entries another consumer left pending longer than `claim_idle_ms` (it
died, or its handler failed and left the entry unacknowledged). Handlers acknowledge
explicitly; an entry is acknowledged only once its effect is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from faststream import AckPolicy
from faststream.redis import RedisBroker, StreamSub
from redis.exceptions import ResponseError

from gurulu.common import logs
from gurulu.common.messages import Message

log = logs.get("gurulu.streams")
STREAM_MAXLEN = 100_000
Handler = Callable[..., Awaitable[None]]


def consumer_name(service: str, index: int = 0) -> str:
    """Unique per process and slot, stable for the process's lifetime."""
    return f"{service}-{socket.gethostname()}-{os.getpid()}-{index}"


async def publish(broker: RedisBroker, stream: str, message: Message) -> None:
    await broker.publish(message.model_dump(mode="json"), stream=stream, maxlen=STREAM_MAXLEN)


def consume(
    broker: RedisBroker,
    stream: str,
    group: str,
    consumer: str,
    make_handler: Callable[[], Handler],
    claim_idle_ms: int,
    polling_ms: int = 1000,
) -> list[Any]:
    """Register a consumer of `stream` in `group`: new entries, and abandoned ones."""
    fresh = StreamSub(stream, group=group, consumer=consumer, polling_interval=polling_ms)
    claims = StreamSub(
        stream,
        group=group,
        consumer=f"{consumer}-claims",
        min_idle_time=claim_idle_ms,
        polling_interval=polling_ms,
    )
    return [
        broker.subscriber(stream=sub, ack_policy=AckPolicy.MANUAL)(make_handler())
        for sub in (fresh, claims)
    ]


async def ensure_groups(redis: aioredis.Redis, groups: Iterable[tuple[str, str]]) -> None:
    """Create the consumer groups that do not exist (any more): after a flush, or a failover
    to an empty replica, a group reads its new stream from the start."""
    for stream, group in groups:
        try:
            await redis.xgroup_create(stream, group, id="0", mkstream=True)
            log.info("streams.group_created", stream=stream, group=group)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise


async def keep_groups(
    redis: aioredis.Redis,
    groups: Iterable[tuple[str, str]],
    stop: asyncio.Event,
    every_seconds: float = 2.0,
) -> None:
    """Keep the consumer groups in place for as long as the process runs; the ticker's
    sweep re-sends whatever was in flight when they vanished."""
    groups = list(groups)
    while not stop.is_set():
        try:
            await ensure_groups(redis, groups)
        except Exception as error:  # Redis away for a moment: try again next round
            log.warning("streams.group_check_failed", error=str(error))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
