"""Requesting refreshes, the same way from the API, the ticker and the evaluator's
requeue: record the runs as queued in ClickHouse first, then announce each on the refresh
stream and on the audience's pub/sub channel."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

import redis.asyncio as aioredis
from faststream.redis import RedisBroker

from gurulu.common import metrics
from gurulu.common.clickhouse import ClickHouse
from gurulu.common.ids import new_id
from gurulu.common.messages import (
    REFRESH_STREAM,
    ChannelNotice,
    RefreshReason,
    RefreshRequested,
    refresh_channel,
)
from gurulu.common.store import runs
from gurulu.common.store.runs import Run
from gurulu.common.streams import publish


def queued(
    workspace_id: str,
    audience_id: str,
    reason: RefreshReason,
    at: datetime,
    run_id: str | None = None,
) -> Run:
    return Run(workspace_id, audience_id, run_id or new_id("run"), reason, "queued", at)


def message_of(run: Run) -> RefreshRequested:
    return RefreshRequested(
        workspace_id=run.workspace_id,
        audience_id=run.audience_id,
        run_id=run.run_id,
        reason=run.reason,  # type: ignore[arg-type]
        requested_at=run.requested_at,
    )


async def request(
    db: ClickHouse, broker: RedisBroker, redis: aioredis.Redis, requested: Sequence[Run]
) -> None:
    if not requested:
        return
    await asyncio.to_thread(runs.record_requests, db, list(requested))
    await announce(broker, redis, requested)


async def announce(broker: RedisBroker, redis: aioredis.Redis, requested: Sequence[Run]) -> None:
    """Send the messages of runs already recorded (also used to re-send stuck ones)."""
    for run in requested:
        await publish(broker, REFRESH_STREAM, message_of(run))
        notice = ChannelNotice(reason=run.reason)  # type: ignore[arg-type]
        await redis.publish(refresh_channel(run.audience_id), notice.dumps())
        metrics.REQUESTS.labels(run.reason).inc()
