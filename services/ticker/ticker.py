"""The ticker.

Every interval, at the interval's boundary, it requests a refresh of every active audience.
Several tickers may run: a tick is claimed in Redis (`SET NX`) so one of them emits it, and
its runs have ids derived from the tick and the audience, so even a tick emitted twice (the
claim lost with Redis) records one run per audience and refreshes it once.

Between ticks it sweeps: an active audience whose last success is older than the interval
plus a grace, with nothing in flight, gets one `catch_up` refresh (after downtime: one per
audience, not one per missed tick); a run queued or running for longer than `stuck_after`
has its message sent again (its message or its evaluator was lost). ClickHouse's runs are
the durable record of what is owed, so a Redis that lost everything heals within one sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis.asyncio as aioredis
from faststream.redis import RedisBroker

from gurulu.common import logs, metrics, requests
from gurulu.common.clickhouse import ClickHouse
from gurulu.common.clock import boundary, utcnow
from gurulu.common.ids import stable_id
from gurulu.common.store import runs, workspaces
from gurulu.common.store.runs import Run, Schedule

log = logs.get("gurulu.ticker")
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class TickerConfig:
    interval_seconds: int = 3600
    stuck_after_seconds: float = 300.0

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.interval_seconds)

    @property
    def grace(self) -> timedelta:
        return min(self.interval / 10, timedelta(minutes=5))

    @property
    def sweep_every(self) -> float:
        return max(0.2, min(30.0, self.interval_seconds / 4))


class Ticker:
    def __init__(
        self,
        db: ClickHouse,
        redis: aioredis.Redis,
        broker: RedisBroker,
        config: TickerConfig | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.redis = redis
        self.broker = broker
        self.config = config or TickerConfig()
        self.clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        last = boundary(self.clock(), self.config.interval)
        while not stop.is_set():
            try:
                current = boundary(self.clock(), self.config.interval)
                if current > last:
                    await self.tick(current)
                    last = current
                await self.sweep()
            except Exception as error:  # a store hiccup must not stop the clock
                log.warning("ticker.error", error=str(error))
            await _sleep_until(stop, self._wake_at(last))

    def _wake_at(self, last: datetime) -> float:
        until_next = (last + self.config.interval - self.clock()).total_seconds()
        return max(0.05, min(until_next, self.config.sweep_every))

    async def tick(self, at: datetime) -> int:
        """Emit the tick at `at` unless another ticker claimed it; returns audiences asked."""
        key = f"gurulu:ticker:tick:{int(at.timestamp())}"
        ttl = max(2 * self.config.interval_seconds, 60)
        if not await self.redis.set(key, "1", nx=True, ex=ttl):
            return 0
        try:
            requested = [
                requests.queued(ws, s.audience_id, "hourly_tick", at, self._run_id(at, s, "tick"))
                for ws, found in await self._schedules()
                for s in found
            ]
            await requests.request(self.db, self.broker, self.redis, requested)
        except BaseException:
            # Give the claim back so that this ticker, or another, emits the tick again: its
            # runs have stable ids, so whatever was already requested is requested once.
            await self.redis.delete(key)
            raise
        metrics.TICKS.inc()
        metrics.LAST_TICK.set_to_current_time()
        metrics.TICK_AUDIENCES.observe(len(requested))
        log.info("ticker.tick", at=at.isoformat(), audiences=len(requested))
        return len(requested)

    async def sweep(self) -> None:
        now = self.clock()
        current = boundary(now, self.config.interval)
        overdue_before = now - self.config.interval - self.config.grace
        for ws, found in await self._schedules():
            for schedule in found:
                stuck = [run for run in schedule.open_runs if self._is_stuck(run, now)]
                if stuck:
                    await self._resend(stuck)
                elif not schedule.open_runs and self._overdue(schedule, overdue_before):
                    await self._catch_up(ws, schedule, current, now)

    @staticmethod
    def _overdue(schedule: Schedule, before: datetime) -> bool:
        return schedule.last_succeeded_at is None or schedule.last_succeeded_at < before

    def _is_stuck(self, run: Run, now: datetime) -> bool:
        since = run.started_at or run.requested_at
        return (now - since).total_seconds() > self.config.stuck_after_seconds

    async def _catch_up(self, ws: str, schedule: Schedule, current: datetime, now: datetime):
        key = f"gurulu:ticker:catch_up:{schedule.audience_id}:{int(current.timestamp())}"
        if not await self.redis.set(key, "1", nx=True, ex=max(self.config.interval_seconds, 60)):
            return
        run_id = self._run_id(current, schedule, "catch_up")
        run = requests.queued(ws, schedule.audience_id, "catch_up", now, run_id)
        await requests.request(self.db, self.broker, self.redis, [run])
        log.info(
            "ticker.catch_up", workspace_id=ws, audience_id=schedule.audience_id, run_id=run_id
        )

    async def _resend(self, stuck: list[Run]) -> None:
        for run in stuck:
            key = f"gurulu:ticker:resent:{run.run_id}"
            if await self.redis.set(key, "1", nx=True, ex=int(self.config.stuck_after_seconds)):
                await requests.announce(self.broker, self.redis, [run])
                log.info(
                    "ticker.resent",
                    workspace_id=run.workspace_id,
                    audience_id=run.audience_id,
                    run_id=run.run_id,
                )

    async def _schedules(self) -> list[tuple[str, list[Schedule]]]:
        def load() -> list[tuple[str, list[Schedule]]]:
            return [(ws, runs.schedules(self.db, ws)) for ws in workspaces.list_ids(self.db)]

        return await asyncio.to_thread(load)

    @staticmethod
    def _run_id(at: datetime, schedule: Schedule, kind: str) -> str:
        return stable_id("run", at, schedule.audience_id, kind)


async def _sleep_until(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
