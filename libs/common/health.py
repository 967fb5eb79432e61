"""Readiness: ClickHouse and Redis reachable, and the schema migrated."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from gurulu.common.clickhouse import ClickHouse
from gurulu.common.schema import pending

Check = tuple[bool, str]


def _clickhouse(db: ClickHouse) -> dict[str, Check]:
    try:
        missing = pending(db)
    except Exception as error:
        return {"clickhouse": (False, str(error)[:200]), "migrations": (False, "unknown")}
    migrations = (not missing, f"pending: {missing}" if missing else "applied")
    return {"clickhouse": (True, "ok"), "migrations": migrations}


async def _redis(redis: aioredis.Redis) -> Check:
    try:
        await asyncio.wait_for(redis.ping(), timeout=2)
    except Exception as error:
        return False, str(error)[:200] or type(error).__name__
    return True, "ok"


async def check(db: ClickHouse, redis: aioredis.Redis) -> dict[str, Check]:
    clickhouse = asyncio.wait_for(asyncio.to_thread(_clickhouse, db), timeout=5)
    found, redis_check = await asyncio.gather(clickhouse, _redis(redis), return_exceptions=True)
    checks: dict[str, Check] = {}
    if isinstance(found, BaseException):
        checks["clickhouse"] = (False, "timed out")
    else:
        checks.update(found)
    checks["redis"] = (
        redis_check if not isinstance(redis_check, BaseException) else (False, "timed out")
    )
    return checks
