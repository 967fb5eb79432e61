"""Pausing a destination that cannot work: the service's only write of a destination.

It is a read-modify-write under the workspace's destinations lock — the lock the API's
edits hold — so a pause and a user's edit never overwrite each other, and a destination
the user paused, resumed or removed in the meantime is left as the user left it.
"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from gurulu.common import locks, logs, metrics
from gurulu.common.clickhouse import ClickHouse
from gurulu.common.clock import utcnow
from gurulu.common.store import destinations
from gurulu.common.store.destinations import Destination

log = logs.get("gurulu.destinations")


async def pause(
    db: ClickHouse, redis: aioredis.Redis, destination: Destination, reason: str, why: str
) -> None:
    key = locks.workspace_key(destinations.LOCK, destination.workspace_id)
    async with locks.held(redis, key, 30, 15):
        current = await asyncio.to_thread(
            destinations.get,
            db,
            destination.workspace_id,
            destination.audience_id,
            destination.destination_id,
        )
        if current is None or current.status != "active":
            return
        paused = current.but(status="paused", paused_reason=reason[:2000], updated_at=utcnow())
        await asyncio.to_thread(destinations.save, db, paused)
    metrics.DESTINATIONS_PAUSED.labels(destination.type, why).inc()
    log.warning(
        "destination.paused",
        workspace_id=destination.workspace_id,
        audience_id=destination.audience_id,
        destination_id=destination.destination_id,
        reason=reason,
    )
