"""The streams, seen from Redis: length, backlog and pending entries per consumer group,
sampled into gauges. The backlog is what an autoscaler of evaluators (KEDA) and the
refresh-lag alerts care about; pending entries that stay high mean consumers died."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

import redis.asyncio as aioredis

from gurulu.common import logs, metrics

log = logs.get("gurulu.monitor")


def _number(value: object) -> int:
    return int(value) if isinstance(value, int | float | str | bytes) and value != b"" else 0


async def sample(redis: aioredis.Redis, groups: Iterable[tuple[str, str]]) -> None:
    wanted: dict[str, set[str]] = {}
    for stream, group in groups:
        wanted.setdefault(stream, set()).add(group)
    for stream, names in wanted.items():
        length = await redis.xlen(stream)
        metrics.STREAM_LENGTH.labels(stream).set(length)
        try:
            infos = await redis.xinfo_groups(stream)
        except aioredis.ResponseError:  # no such stream yet
            infos = []
        for info in infos:
            name = info["name"].decode() if isinstance(info["name"], bytes) else info["name"]
            if name not in names:
                continue
            metrics.STREAM_PENDING.labels(stream, name).set(_number(info.get("pending")))
            metrics.STREAM_CONSUMERS.labels(stream, name).set(_number(info.get("consumers")))
            backlog = info.get("lag")
            if backlog is None:  # Redis < 7 does not report it: count what is after the cursor
                last = info.get("last-delivered-id", b"0-0")
                after = await redis.xrange(stream, min=f"({_text(last)}", count=10_000)
                backlog = len(after or [])
            metrics.STREAM_BACKLOG.labels(stream, name).set(_number(backlog))


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def watch(
    redis: aioredis.Redis,
    groups: Iterable[tuple[str, str]],
    stop: asyncio.Event,
    every_seconds: float = 10.0,
) -> None:
    groups = list(groups)
    while not stop.is_set():
        try:
            await sample(redis, groups)
        except Exception as error:  # Redis away: the gauges keep their last values
            log.warning("monitor.sample_failed", error=str(error))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
