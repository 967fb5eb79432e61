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
    """Register a consumer of `stream` in `group`: new entries, and abandoned ones. Each
    read takes one entry: a consumer holds only the message in hand, so a burst is shared
    by every consumer of the group, one that stops strands nothing it had not begun, and
    no entry waits in a busy consumer long enough to be claimed by another."""
    fresh = StreamSub(
        stream, group=group, consumer=consumer, polling_interval=polling_ms, max_records=1
    )
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


# Consumers are named per process (consumer_name), so every restart leaves its old ones in
# the group. One that holds no entry and has been idle for an hour belongs to a process that
# is gone: Redis 7.2+ counts idle time from a consumer's last read, and a live consumer
# reads every second. Earlier versions count it from the last delivery, so a live consumer
# with nothing to do for an hour goes too; that is harmless, as it holds nothing and Redis
# makes it again when it next serves it an entry.
DEAD_CONSUMER_IDLE_SECONDS = 3600.0
PRUNE_EVERY_SECONDS = 60.0

# Checked and deleted in one script: between a separate XINFO and XGROUP DELCONSUMER the
# consumer could take an entry, and deleting it would drop that entry from the group's
# pending list, where no other consumer could claim it.
_PRUNE = """
local removed = {}
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for i = 1, #consumer, 2 do info[consumer[i]] = consumer[i + 1] end
  if info['pending'] == 0 and info['idle'] >= tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    removed[#removed + 1] = info['name']
  end
end
return removed
"""


async def prune_consumers(
    redis: aioredis.Redis,
    groups: Iterable[tuple[str, str]],
    idle_seconds: float = DEAD_CONSUMER_IDLE_SECONDS,
) -> list[tuple[str, str, str]]:
    """Delete the consumers of `groups` idle for `idle_seconds` with no pending entry;
    never one with pending entries. Returns (stream, group, consumer) of those deleted."""
    removed = []
    for stream, group in groups:
        try:
            names = await redis.eval(_PRUNE, 1, stream, group, int(idle_seconds * 1000))
        except ResponseError as error:
            if "NOGROUP" in str(error) or "no such key" in str(error):
                continue  # the group is gone: ensure_groups makes it again
            raise
        for name in names:
            consumer = name.decode() if isinstance(name, bytes) else str(name)
            log.info("streams.consumer_removed", stream=stream, group=group, consumer=consumer)
            removed.append((stream, group, consumer))
    return removed


async def keep_groups(
    redis: aioredis.Redis,
    groups: Iterable[tuple[str, str]],
    stop: asyncio.Event,
    every_seconds: float = 2.0,
    consumer_idle_seconds: float = DEAD_CONSUMER_IDLE_SECONDS,
    prune_every_seconds: float = PRUNE_EVERY_SECONDS,
) -> None:
    """Keep the consumer groups in place for as long as the process runs (the ticker's
    sweep re-sends whatever was in flight when they vanished), and rid them of the
    consumers of processes that are gone."""
    groups = list(groups)
    loop = asyncio.get_running_loop()
    pruned_at = loop.time()
    while not stop.is_set():
        try:
            await ensure_groups(redis, groups)
            if loop.time() - pruned_at >= prune_every_seconds:
                pruned_at = loop.time()
                await prune_consumers(redis, groups, consumer_idle_seconds)
        except Exception as error:  # Redis away for a moment: try again next round
            log.warning("streams.group_check_failed", error=str(error))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
