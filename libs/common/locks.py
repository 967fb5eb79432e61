"""Redis locks held for as long as the work under them takes.

A lock is taken with a TTL, so that a process that dies lets go of it; while the work runs
a keeper extends it every third of the TTL. A `Hold` says whether the lock can still be
counted on: work that writes in steps checks it between them (`Hold.check`), so that if the
lock ran out — taken over by another process, Redis unreachable past the TTL, this process
stalled — it stops before its next write instead of writing over whoever holds it now.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError


def workspace_key(name: str, workspace_id: str) -> str:
    """The lock that serialises one kind of change (`name`) within a workspace, whichever
    service makes it."""
    return f"gurulu:lock:{name}:{workspace_id}"


class Busy(Exception):
    """The lock stayed taken for as long as the caller would wait."""


class LockLost(Exception):
    """The lock ran out while its work was under way: another process may hold it now."""


class Hold:
    """How long the holder may go on counting on its lock. `check` is safe to call from a
    worker thread."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self.until = time.monotonic() + ttl_seconds
        self.lost = False

    def renewed(self) -> None:
        self.until = time.monotonic() + self.ttl

    def lose(self) -> None:
        self.lost = True

    def check(self, step: str = "") -> None:
        if self.lost or time.monotonic() > self.until:
            after = f" after step {step!r}" if step else ""
            raise LockLost(f"the lock ran out{after}; another process may hold it now")


@contextlib.asynccontextmanager
async def held(
    redis: aioredis.Redis, key: str, ttl_seconds: float, wait_seconds: float
) -> AsyncIterator[Hold]:
    """Hold the lock `key` for the body of the block; `Busy` if it stays taken longer than
    `wait_seconds`."""
    lock = redis.lock(key, timeout=ttl_seconds, blocking_timeout=wait_seconds)
    if not await lock.acquire():
        raise Busy(key)
    hold = Hold(ttl_seconds)
    keeper = asyncio.create_task(_keep(lock, hold))
    try:
        yield hold
    finally:
        keeper.cancel()
        with contextlib.suppress(Exception):  # gone already, or Redis away: its TTL ends it
            await lock.release()


async def _keep(lock: Lock, hold: Hold) -> None:
    while not hold.lost:
        await asyncio.sleep(hold.ttl / 3)
        try:
            await lock.reacquire()
        except LockError:
            hold.lose()
        except Exception:  # Redis unreachable for now: the lock lasts until its TTL
            continue
        else:
            hold.renewed()
