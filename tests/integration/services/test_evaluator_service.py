"""Evaluators over Redis Streams: every request applied exactly once, whatever the
deliveries, deaths and failures."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import orjson
import pytest
import redis as sync_redis
from faststream.redis.parser.binary import BinaryMessageFormatV1
from prometheus_client import REGISTRY

from gurulu.api import audiences
from gurulu.api.context import ApiContext
from gurulu.common import requests
from gurulu.common.clock import utcnow
from gurulu.common.messages import DEAD_LETTER_STREAM, REFRESH_STREAM, REFRESHED_STREAM
from gurulu.common.settings import Settings
from gurulu.common.store import daily, runs
from gurulu.common.streams import publish
from gurulu.evaluator.refresh import refresh
from gurulu.evaluator.service import EvaluatorConfig
from tests.integration.services.conftest import eventually, running
from tests.support import audience, cohort, events, members, request, workspace


def shop(db):
    ws = workspace(db)
    recently = utcnow() - timedelta(hours=1)
    events(db, ws, *[(p, "add_to_cart", recently) for p in ("ana", "bob", "cem")])
    return ws, audience(db, ws, cohort(db, ws, "carted", "event:add_to_cart in last 7d"))


def done(db, aud, run_id):
    def check():
        run = runs.get(db, aud.workspace_id, aud.audience_id, run_id)
        return run if run and run.status in ("succeeded", "failed") else None

    return check


async def refreshed_events(redis) -> list[dict]:
    entries = await redis.xrange(REFRESHED_STREAM)
    return [orjson.loads(_body(fields)) for _, fields in entries]


def _body(fields: dict) -> bytes:
    body, _ = BinaryMessageFormatV1.parse(fields[b"__data__"])
    return body


async def test_a_requested_refresh_is_evaluated_announced_and_snapshotted(db, redis, redis_url):
    ws, aud = shop(db)
    async with running(db, redis_url) as services:
        run = requests.queued(ws, aud.audience_id, "manual", utcnow())
        await requests.request(db, services.broker, services.redis, [run])
        finished = await eventually(done(db, aud, run.run_id))
        rows = await eventually(lambda: daily.rows(db, ws, aud.audience_id))
    assert finished.status == "succeeded" and finished.joined_count == 3
    assert set(members(db, aud)) == {"ana", "bob", "cem"}
    assert rows[0].member_count == 3 and rows[0].joined_count == 3
    [announced] = await refreshed_events(redis)
    assert announced["run_id"] == run.run_id and announced["joined_count"] == 3


def refreshes_counted() -> float:
    labels = {"outcome": "succeeded", "reason": "manual"}
    return REGISTRY.get_sample_value("gurulu_refreshes_total", labels) or 0.0


async def test_the_same_message_delivered_twice_is_applied_once(db, redis, redis_url):
    ws, aud = shop(db)
    counted = refreshes_counted()
    async with running(db, redis_url, evaluators=2) as services:
        run = requests.queued(ws, aud.audience_id, "manual", utcnow())
        await requests.request(db, services.broker, services.redis, [run])
        await publish(services.broker, REFRESH_STREAM, requests.message_of(run))
        await eventually(done(db, aud, run.run_id))
        announced = await _wait_announced(redis, 2)
    assert [a["joined_count"] for a in announced] == [3, 3]  # announced again, to be sure
    assert refreshes_counted() == counted + 1  # but one refresh in the metrics
    assert runs.get(db, ws, aud.audience_id, run.run_id).attempt == 1
    [row] = daily.rows(db, ws, aud.audience_id)
    assert (row.member_count, row.joined_count) == (3, 3)


async def _wait_announced(redis, count: int, timeout: float = 20.0) -> list[dict]:
    for _ in range(int(timeout / 0.1)):
        found = await refreshed_events(redis)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"expected {count} AudienceRefreshed messages")


async def test_a_refresh_requested_while_another_runs_waits_and_is_not_lost(db, redis, redis_url):
    ws, aud = shop(db)
    async with running(db, redis_url) as services:
        held = services.redis.lock(f"gurulu:lock:refresh:{aud.audience_id}", timeout=30)
        assert await held.acquire()
        run = requests.queued(ws, aud.audience_id, "manual", utcnow())
        await requests.request(db, services.broker, services.redis, [run])
        await asyncio.sleep(1.0)
        assert runs.get(db, ws, aud.audience_id, run.run_id).status == "queued"
        await held.release()
        finished = await eventually(done(db, aud, run.run_id))
    assert finished.status == "succeeded"


async def test_waiting_refreshes_are_shared_by_the_evaluators_one_at_a_time(db, redis, redis_url):
    """Each evaluator takes one refresh at a time from the stream, so a burst is spread over
    all of them (and one stopping leaves nothing but the refresh in hand)."""
    ws, _ = shop(db)
    source = cohort(db, ws, "carted again", "event:add_to_cart in last 7d")
    found = [audience(db, ws, source, f"Live {n}") for n in range(6)]
    handled: dict[int, list[str]] = {}

    def slow(evaluator):  # type: ignore[no-untyped-def]
        refresh_in_thread, handle = evaluator._refresh, evaluator.handle

        def refresh_slowly(*args, **kwargs):  # type: ignore[no-untyped-def]
            time.sleep(0.3)
            return refresh_in_thread(*args, **kwargs)

        async def handle_counted(request, message):  # type: ignore[no-untyped-def]
            handled.setdefault(id(evaluator), []).append(request.run_id)
            pending = await redis.xpending_range(REFRESH_STREAM, "evaluator", "-", "+", 100)
            held = [p["consumer"] for p in pending if not p["consumer"].endswith(b"-claims")]
            most.append(max((held.count(c) for c in held), default=0))
            await handle(request, message)

        evaluator._refresh, evaluator.handle = refresh_slowly, handle_counted

    most: list[int] = []
    config = EvaluatorConfig(claim_idle_ms=10_000, lock_wait_seconds=5.0)
    async with running(db, redis_url, evaluators=2, config=config, patch=slow) as services:
        asked = [requests.queued(ws, a.audience_id, "manual", utcnow()) for a in found]
        await requests.request(db, services.broker, services.redis, asked)
        for run, aud in zip(asked, found, strict=True):
            await eventually(done(db, aud, run.run_id))
    assert len(handled) == 2 and all(len(runs) >= 2 for runs in handled.values()), handled
    assert max(most) == 1  # no evaluator held a refresh it had not begun


async def test_refresh_requests_made_while_one_waits_are_that_one_run(
    db, redis, redis_url, tmp_path
):
    """Asked for again and again before it begins, a refresh is one run (and one sync of
    each destination); asked for once it has begun, it is another."""
    ws, aud = shop(db)
    async with running(db, redis_url) as services:
        ctx = ApiContext(Settings(data_dir=tmp_path), db, services.redis, services.broker)
        held = services.redis.lock(f"gurulu:lock:refresh:{aud.audience_id}", timeout=30)
        assert await held.acquire()
        asked = [await audiences.refresh_now(ctx, ws, aud.audience_id) for _ in range(5)]
        assert len({run.run_id for run in asked}) == 1
        await held.release()
        first = await eventually(done(db, aud, asked[0].run_id))
        again = await audiences.refresh_now(ctx, ws, aud.audience_id)
        assert again.run_id != first.run_id
        await eventually(done(db, aud, again.run_id))
    manual = [r for r in runs.recent(db, ws, aud.audience_id) if r.reason == "manual"]
    assert [r.run_id for r in manual] == [again.run_id, first.run_id]
    assert all(r.status == "succeeded" for r in manual)


async def test_a_request_that_outwaits_the_lock_is_put_back_and_done_later(db, redis, redis_url):
    ws, aud = shop(db)
    config = EvaluatorConfig(claim_idle_ms=300, lock_wait_seconds=0.3)
    async with running(db, redis_url, config=config) as services:
        held = services.redis.lock(f"gurulu:lock:refresh:{aud.audience_id}", timeout=30)
        assert await held.acquire()
        run = requests.queued(ws, aud.audience_id, "manual", utcnow())
        await requests.request(db, services.broker, services.redis, [run])
        await asyncio.sleep(1.5)
        await held.release()
        finished = await eventually(done(db, aud, run.run_id))
        assert await services.redis.xlen(REFRESH_STREAM) >= 2  # it was put back at least once
    assert finished.status == "succeeded"


async def test_a_message_left_pending_by_a_dead_consumer_is_claimed_and_done(db, redis, redis_url):
    ws, aud = shop(db)
    run = requests.queued(ws, aud.audience_id, "manual", utcnow())
    async with running(db, redis_url, evaluators=0) as services:
        await requests.request(db, services.broker, services.redis, [run])
        # A consumer reads the entry, then dies without acknowledging it.
        await services.redis.xreadgroup("evaluator", "dead-1", {REFRESH_STREAM: ">"}, count=1)
    async with running(db, redis_url):
        finished = await eventually(done(db, aud, run.run_id))
    assert finished.status == "succeeded"
    pending = await redis.xpending(REFRESH_STREAM, "evaluator")
    assert pending["pending"] == 0


async def test_an_evaluator_that_dies_mid_refresh_is_taken_over_and_equals_a_clean_run(
    db, redis, redis_url
):
    ws, aud = shop(db)
    crashes = []

    def crash_once_after_staging(evaluator):
        def flaky(*args, **kwargs):
            if not crashes:
                crashes.append(1)
                return refresh(*args, checkpoint=_raise_at("staged"), **kwargs)
            return refresh(*args, **kwargs)

        evaluator._refresh = flaky

    async with running(db, redis_url, patch=crash_once_after_staging) as services:
        run = requests.queued(ws, aud.audience_id, "manual", utcnow())
        await requests.request(db, services.broker, services.redis, [run])
        finished = await eventually(done(db, aud, run.run_id))
        rows = await eventually(lambda: daily.rows(db, ws, aud.audience_id))
    assert crashes == [1]
    assert (finished.status, finished.joined_count, finished.member_count) == ("succeeded", 3, 3)
    assert finished.attempt == 1  # the staged delta was finished, not staged again
    assert set(members(db, aud)) == {"ana", "bob", "cem"}
    assert (rows[0].joined_count, rows[0].member_count) == (3, 3)


def _raise_at(step: str):
    def checkpoint(reached: str) -> None:
        if reached == step:
            raise ConnectionError(f"evaluator lost at {step}")

    return checkpoint


async def test_a_message_that_keeps_failing_is_dead_lettered_and_its_run_failed(
    db, redis, redis_url
):
    ws, aud = shop(db)

    def always_fail(evaluator):
        def broken(*args, **kwargs):
            raise RuntimeError("Code: 60. Unknown table expression identifier 'nope'")

        evaluator._refresh = broken

    config = EvaluatorConfig(max_deliveries=2, claim_idle_ms=200, lock_wait_seconds=1.0)
    async with running(db, redis_url, config=config, patch=always_fail) as services:
        run = requests.queued(ws, aud.audience_id, "manual", utcnow())
        await requests.request(db, services.broker, services.redis, [run])
        finished = await eventually(done(db, aud, run.run_id))
    assert finished.status == "failed"
    assert "Unknown table expression identifier" in finished.error
    [(_, dead)] = await redis.xrange(DEAD_LETTER_STREAM)
    assert b"Unknown table" in dead[b"error"] and dead[b"deliveries"] == b"3"
    assert members(db, aud) == {}


async def test_stopping_finishes_the_refresh_in_hand_before_it_returns(db, redis, redis_url):
    ws, aud = shop(db)
    started = asyncio.Event()
    loop = asyncio.get_running_loop()

    def slow(evaluator):
        def refresh_slowly(*args, **kwargs):
            loop.call_soon_threadsafe(started.set)
            time.sleep(1.5)  # a long refresh, in the evaluator's worker thread
            return refresh(*args, **kwargs)

        evaluator._refresh = refresh_slowly

    async with running(db, redis_url, patch=slow) as services:
        run = requests.queued(ws, aud.audience_id, "manual", utcnow())
        await requests.request(db, services.broker, services.redis, [run])
        await asyncio.wait_for(started.wait(), timeout=10)
    # Leaving `running` stopped the broker (SIGTERM does the same): the refresh finished first.
    finished = runs.get(db, ws, aud.audience_id, run.run_id)
    assert finished.status == "succeeded" and finished.joined_count == 3
    pending = await redis.xpending(REFRESH_STREAM, "evaluator")
    assert pending["pending"] == 0


async def test_an_evaluator_whose_lock_ran_out_stops_before_writing_over_the_one_that_took_over(
    db, redis, redis_url
):
    ws, aud = shop(db)
    stalls = []
    ttl = 0.6

    def stall_once_after_running(evaluator):
        fenced = evaluator._refresh

        def stalling(*args, checkpoint, **kwargs):
            def at(step: str) -> None:
                if step == "running" and not stalls:
                    stalls.append(step)
                    # This evaluator stalls past its lock's TTL; meanwhile another one takes
                    # the audience's lock over and carries the same run out to the end.
                    with sync_redis.Redis.from_url(redis_url) as other:
                        other.set(f"gurulu:lock:refresh:{aud.audience_id}", "other", px=1_000)
                    refresh(db, ws, aud.audience_id, args[3])
                    time.sleep(ttl)
                checkpoint(step)

            return fenced(*args, checkpoint=at, **kwargs)

        evaluator._refresh = stalling

    config = EvaluatorConfig(claim_idle_ms=300, lock_ttl_seconds=ttl, lock_wait_seconds=2.0)
    async with running(db, redis_url, config=config, patch=stall_once_after_running) as services:
        run = requests.queued(ws, aud.audience_id, "manual", utcnow())
        await requests.request(db, services.broker, services.redis, [run])
        await eventually(done(db, aud, run.run_id))
        await asyncio.sleep(2 * ttl)  # the stalled evaluator has woken up by now
        finished = runs.get(db, ws, aud.audience_id, run.run_id)
        for _ in range(100):  # its message, left pending, is claimed again and announced
            if await redis.xlen(REFRESHED_STREAM):
                break
            await asyncio.sleep(0.1)
    assert stalls == ["running"]
    assert (finished.status, finished.joined_count, finished.member_count) == ("succeeded", 3, 3)
    assert set(members(db, aud)) == {"ana", "bob", "cem"}
    assert {e["joined_count"] for e in await refreshed_events(redis)} == {3}


async def test_a_staged_run_finished_by_the_next_one_is_announced_and_counted_on_its_day(
    db, redis, redis_url
):
    ws = workspace(db)
    events(db, ws, *[(p, "add_to_cart", utcnow() - timedelta(days=2)) for p in ("ana", "bob")])
    aud = audience(db, ws, cohort(db, ws, "carted", "event:add_to_cart in last 7d"))
    yesterday = utcnow() - timedelta(days=1)
    staged = request(db, aud, at=yesterday)
    with pytest.raises(ConnectionError):  # its evaluator died once the delta was staged
        refresh(
            db,
            ws,
            aud.audience_id,
            staged.run_id,
            clock=lambda: yesterday,
            checkpoint=_raise_at("staged"),
        )

    async with running(db, redis_url) as services:
        run = requests.queued(ws, aud.audience_id, "manual", utcnow())
        await requests.request(db, services.broker, services.redis, [run])
        await eventually(done(db, aud, run.run_id))
        rows = await eventually(lambda: len(r := daily.rows(db, ws, aud.audience_id)) == 2 and r)
    announced = {e["run_id"]: e for e in await refreshed_events(redis)}
    assert announced[staged.run_id]["status"] == "succeeded"
    assert announced[staged.run_id]["joined_count"] == 2
    by_day = {r.snapshot_date: (r.member_count, r.joined_count) for r in rows}
    assert by_day == {yesterday.date(): (2, 2), utcnow().date(): (2, 0)}
