"""The ticker: each tick once across tickers, one catch-up per overdue audience after
downtime, and healing after Redis loses everything."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from faststream.redis import RedisBroker

from gurulu.common import requests
from gurulu.common.clock import utcnow
from gurulu.common.messages import REFRESH_STREAM
from gurulu.common.store import audiences as audience_store
from gurulu.common.store import daily, runs
from gurulu.ticker.ticker import Ticker, TickerConfig
from tests.integration.services.conftest import eventually, running
from tests.support import audience, cohort, events, workspace

HOUR = TickerConfig(interval_seconds=3600, stuck_after_seconds=300)


def shop(db, audiences: int = 3):
    ws = workspace(db)
    events(db, ws, ("ana", "visit", utcnow() - timedelta(hours=1)))
    source = cohort(db, ws, "visitors", "event:visit in last 7d")
    return ws, [audience(db, ws, source, name=f"a{i}") for i in range(audiences)]


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


async def open_broker(redis_url: str) -> RedisBroker:
    broker = RedisBroker(redis_url, logger=None)
    await broker.connect()
    return broker


def requested(db, ws, reason: str) -> list:
    return [
        run
        for a in audience_store.list_all(db, ws)
        for run in runs.recent(db, ws, a.audience_id)
        if run.reason == reason
    ]


async def test_two_tickers_emit_each_tick_once(db, redis, redis_url):
    ws, auds = shop(db)
    broker = await open_broker(redis_url)
    at = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    first, second = (Ticker(db, redis, broker, HOUR, Clock(at)) for _ in range(2))
    emitted = await asyncio.gather(first.tick(at), second.tick(at))
    assert sorted(emitted) == [0, 3]
    assert await redis.xlen(REFRESH_STREAM) == 3
    assert len(requested(db, ws, "hourly_tick")) == 3
    # Even with the claim gone (Redis lost it), the tick's runs are the same runs.
    await redis.flushall()
    await first.tick(at)
    assert len(requested(db, ws, "hourly_tick")) == 3
    await broker.stop()


async def test_a_tick_that_fails_midway_is_emitted_again_by_the_next_try(db, redis, redis_url):
    ws, auds = shop(db)
    broker = await open_broker(redis_url)
    at = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    ticker = Ticker(db, redis, broker, HOUR, Clock(at))
    schedules = ticker._schedules

    async def store_down() -> list:
        raise ConnectionError("ClickHouse is restarting")

    ticker._schedules = store_down  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await ticker.tick(at)
    ticker._schedules = schedules  # type: ignore[method-assign]

    assert await ticker.tick(at) == 3
    assert len(requested(db, ws, "hourly_tick")) == 3
    await broker.stop()


async def test_after_downtime_each_audience_catches_up_once(db, redis, redis_url):
    ws, auds = shop(db)
    broker = await open_broker(redis_url)
    clock = Clock(utcnow() + timedelta(hours=6, minutes=10))  # six ticks were missed
    ticker = Ticker(db, redis, broker, HOUR, clock)
    for _ in range(3):
        await ticker.sweep()
    catch_ups = requested(db, ws, "catch_up")
    assert sorted(r.audience_id for r in catch_ups) == sorted(a.audience_id for a in auds)
    assert await redis.xlen(REFRESH_STREAM) == 3
    await broker.stop()


async def test_audiences_refreshed_recently_or_in_flight_are_not_caught_up(db, redis, redis_url):
    ws, (fresh, pending) = shop(db, audiences=2)
    broker = await open_broker(redis_url)
    async with running(db, redis_url) as services:
        run = requests.queued(ws, fresh.audience_id, "manual", utcnow())
        await requests.request(db, services.broker, services.redis, [run])
        await eventually(lambda: runs.latest_succeeded(db, ws, fresh.audience_id))
    runs.record_requests(db, [requests.queued(ws, pending.audience_id, "manual", utcnow())])
    ticker = Ticker(db, redis, broker, HOUR, Clock(utcnow() + timedelta(minutes=30)))
    await ticker.sweep()
    assert requested(db, ws, "catch_up") == []
    await broker.stop()


async def test_a_redis_that_lost_everything_heals_within_one_sweep(db, redis, redis_url):
    ws, auds = shop(db, audiences=2)
    broker = await open_broker(redis_url)
    lost = [requests.queued(ws, a.audience_id, "manual", utcnow()) for a in auds]
    await requests.request(db, broker, redis, lost)
    await redis.flushall()  # the requests' messages are gone; the runs are still owed
    async with running(db, redis_url):
        await asyncio.sleep(0.5)
        assert all(runs.get(db, ws, r.audience_id, r.run_id).status == "queued" for r in lost)
        later = Clock(utcnow() + timedelta(minutes=6))
        await Ticker(db, redis, broker, HOUR, later).sweep()
        for r in lost:
            await eventually(lambda r=r: runs.get(db, ws, r.audience_id, r.run_id).done)
    assert all(runs.get(db, ws, r.audience_id, r.run_id).status == "succeeded" for r in lost)
    await broker.stop()


async def test_ticks_on_a_short_interval_flow_through_evaluation_to_snapshots(db, redis, redis_url):
    ws, auds = shop(db, audiences=1)
    config = TickerConfig(interval_seconds=1, stuck_after_seconds=60)
    stop = asyncio.Event()
    async with running(db, redis_url) as services:
        ticker = Ticker(db, services.redis, services.broker, config)
        task = asyncio.create_task(ticker.run(stop))
        ticked = await eventually(lambda: requested(db, ws, "hourly_tick"), timeout=10)
        run = ticked[0]
        await eventually(lambda: runs.get(db, ws, run.audience_id, run.run_id).done)
        rows = await eventually(lambda: daily.rows(db, ws, auds[0].audience_id))
        stop.set()
        await task
    assert runs.get(db, ws, run.audience_id, run.run_id).status == "succeeded"
    assert rows[0].member_count == 1


async def test_consumers_keep_working_after_redis_is_flushed_under_them(db, redis, redis_url):
    ws, (aud,) = shop(db, audiences=1)
    async with running(db, redis_url) as services:
        await redis.flushall()
        await asyncio.sleep(1.0)  # the groups are recreated
        run = requests.queued(ws, aud.audience_id, "manual", utcnow())
        await requests.request(db, services.broker, services.redis, [run])
        await eventually(lambda: runs.get(db, ws, aud.audience_id, run.run_id).done)
    assert runs.get(db, ws, aud.audience_id, run.run_id).status == "succeeded"
