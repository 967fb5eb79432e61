"""The evaluator's stream handler: one `RefreshRequested` in, one refresh, one
`AudienceRefreshed` out.

Replicas are interchangeable consumers of the `evaluator` group. A Redis lock per audience
lets one refresh of an audience run at a time across all of them; a request that finds the
lock taken waits for it, and past that is put back on the stream rather than dropped.
Transient ClickHouse errors are retried here with backoff; an error that outlasts that
leaves the entry unacknowledged, so it is claimed again after an idle timeout, and after
`max_deliveries` it goes to the dead-letter stream and its run is marked failed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from faststream.redis import RedisBroker, RedisStreamMessage
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_random_exponential

from gurulu.common import locks, logs, metrics
from gurulu.common.clickhouse import ClickHouse
from gurulu.common.clock import utcnow
from gurulu.common.errors import NotFound
from gurulu.common.messages import (
    DEAD_LETTER_STREAM,
    EVALUATOR_GROUP,
    REFRESH_STREAM,
    REFRESHED_STREAM,
    AudienceRefreshed,
    RefreshReason,
    RefreshRequested,
)
from gurulu.common.store import runs
from gurulu.common.store.runs import Run
from gurulu.common.streams import consume, publish
from gurulu.evaluator.refresh import fail, refresh

log = logs.get("gurulu.evaluator")

# ClickHouse error codes worth another try: overload, timeouts, network, replicas.
TRANSIENT_CODES = {159, 164, 202, 209, 210, 242, 252, 319, 425, 999}


def is_transient(error: BaseException) -> bool:
    if isinstance(error, OperationalError):
        return True
    if isinstance(error, DatabaseError):
        return any(f"Code: {code}." in str(error) for code in TRANSIENT_CODES)
    return isinstance(error, ConnectionError | TimeoutError)


@dataclass(frozen=True)
class EvaluatorConfig:
    max_deliveries: int = 5
    claim_idle_ms: int = 60_000
    lock_ttl_seconds: float = 60.0
    lock_wait_seconds: float = 30.0
    retry_attempts: int = 4


class Evaluator:
    def __init__(
        self,
        db: ClickHouse,
        redis: aioredis.Redis,
        broker: RedisBroker,
        config: EvaluatorConfig | None = None,
    ) -> None:
        self.db = db
        self.redis = redis
        self.broker = broker
        self.config = config or EvaluatorConfig()
        self._refresh = retry(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(self.config.retry_attempts),
            wait=wait_random_exponential(multiplier=0.5, max=10),
            reraise=True,
        )(refresh)

    def register(self, consumer: str) -> None:
        def make_handler():
            async def on_refresh_requested(
                request: RefreshRequested, message: RedisStreamMessage
            ) -> None:
                await self.handle(request, message)

            return on_refresh_requested

        consume(
            self.broker,
            REFRESH_STREAM,
            EVALUATOR_GROUP,
            consumer,
            make_handler,
            self.config.claim_idle_ms,
        )

    async def handle(self, request: RefreshRequested, message: RedisStreamMessage) -> None:
        bound = log.bind(
            audience_id=request.audience_id,
            run_id=request.run_id,
            workspace_id=request.workspace_id,
            reason=request.reason,
        )
        deliveries = await message.get_delivery_count()
        if deliveries > self.config.max_deliveries:
            await self._dead_letter(request, deliveries)
            await message.ack()
            return
        earlier: list[Run] = []
        key = f"gurulu:lock:refresh:{request.audience_id}"
        config = self.config
        try:
            async with locks.held(
                self.redis, key, config.lock_ttl_seconds, config.lock_wait_seconds
            ) as hold:
                began = utcnow()  # with the audience's lock: no refresh of it is under way
                run = await self._run(request, hold, earlier.append)
        except locks.Busy:
            bound.info("refresh.requeued", why="another refresh of the audience is running")
            await publish(self.broker, REFRESH_STREAM, request)
            await message.ack()
            return
        except NotFound:
            bound.warning("refresh.unknown_run")
            await message.ack()
            return
        except Exception as error:
            await self.redis.set(self._error_key(request), str(error)[:2000], ex=86_400)
            bound.warning("refresh.attempt_failed", error=str(error), deliveries=deliveries)
            return  # left pending: claimed again after the idle timeout
        for finished in earlier:  # staged by an evaluator that died; finished by this one
            await self._announce(finished)
        # A message delivered again (its evaluator died, or outlived the claim timeout) may
        # find its run finished already: announced again, as its announcement may be what
        # was lost, but counted in the metrics only by the delivery that finished it.
        again = run.finished_at is not None and run.finished_at < began
        await self._announce(run, request.reason, counted=not again)
        await message.ack()
        bound.info(
            "refresh.done",
            again=again,
            status=run.status,
            joined=run.joined_count,
            left=run.left_count,
            members=run.member_count,
            error=run.error or None,
        )

    async def _run(
        self, request: RefreshRequested, hold: locks.Hold, completed: Callable[[Run], None]
    ) -> Run:
        """The refresh, in a worker thread; it checks between its writes that the audience's
        lock still holds, and stops before the next one if it ran out."""
        started = time.perf_counter()
        try:
            return await asyncio.to_thread(
                self._refresh,
                self.db,
                request.workspace_id,
                request.audience_id,
                request.run_id,
                checkpoint=hold.check,
                completed=completed,
            )
        finally:
            metrics.REFRESH_DURATION.observe(time.perf_counter() - started)

    async def _announce(
        self, run: Run, reason: RefreshReason | None = None, counted: bool = True
    ) -> None:
        """Announce a finished run; `reason` is the request's (a run's own record says the
        same, unless the request is all that is left of it). `counted` runs go into the
        metrics."""
        outcome = "succeeded" if run.status == "succeeded" else "failed"
        reason = reason or cast(RefreshReason, run.reason)
        event = AudienceRefreshed(
            workspace_id=run.workspace_id,
            audience_id=run.audience_id,
            run_id=run.run_id,
            reason=reason,
            status=outcome,
            requested_at=run.requested_at,
            evaluated_at=run.evaluated_at,
            finished_at=run.finished_at,
            member_count=run.member_count,
            joined_count=run.joined_count,
            left_count=run.left_count,
            rows_read=run.rows_read,
            error=run.error,
        )
        await publish(self.broker, REFRESHED_STREAM, event)
        if not counted:
            return
        metrics.REFRESHES.labels(outcome, reason).inc()
        if outcome == "succeeded" and run.finished_at is not None:
            lag = (run.finished_at - run.requested_at).total_seconds()
            metrics.REFRESH_LAG.labels(reason).observe(max(lag, 0.0))
            metrics.REFRESH_ROWS_READ.observe(run.rows_read)
            metrics.MEMBERS_CHANGED.labels("joined").inc(run.joined_count)
            metrics.MEMBERS_CHANGED.labels("left").inc(run.left_count)

    async def _dead_letter(self, request: RefreshRequested, deliveries: int) -> None:
        stored = await self.redis.get(self._error_key(request))
        error = stored.decode() if isinstance(stored, bytes) else "the refresh kept failing"
        await self.redis.xadd(
            DEAD_LETTER_STREAM,
            {
                "message": request.dumps(),
                "error": error,
                "deliveries": str(deliveries),
                "dead_at": utcnow().isoformat(),
            },
        )
        metrics.DEAD_LETTERS.labels(REFRESH_STREAM).inc()
        log.error(
            "refresh.dead_lettered",
            audience_id=request.audience_id,
            run_id=request.run_id,
            workspace_id=request.workspace_id,
            error=error,
            deliveries=deliveries,
        )
        try:
            run = await asyncio.to_thread(
                self._fail, request, f"gave up after {deliveries - 1} attempts: {error}"
            )
        except Exception as failure:  # ClickHouse is what keeps failing; the entry is parked
            log.error(
                "refresh.fail_not_recorded",
                audience_id=request.audience_id,
                run_id=request.run_id,
                workspace_id=request.workspace_id,
                error=str(failure),
            )
            return
        if run is not None:
            await self._announce(run, request.reason)

    def _fail(self, request: RefreshRequested, error: str) -> Run | None:
        run = runs.get(self.db, request.workspace_id, request.audience_id, request.run_id)
        return fail(self.db, run, error) if run is not None else None

    @staticmethod
    def _error_key(request: RefreshRequested) -> str:
        return f"gurulu:evaluator:last_error:{request.run_id}"
